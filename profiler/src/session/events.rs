//! The rare events the kernel side notes besides syscalls (see
//! `profiler-ebpf/src/events.rs`): processes moved out of the watched
//! cgroup, and the last program each process of it executed. This module
//! names their hooks for a probe to attach ([`hooks`]), reads them back
//! ([`read`]), and says what they mean for the user: a process that left
//! is no longer recorded (or watched), and a container engine's client
//! started from the watched command starts its containers elsewhere.

use std::{collections::BTreeMap, path::Path};

use aya::maps::{Array, HashMap, MapError};
use profiler_common::{self as common, event_counts, maps, programs};

use super::{
    ebpf::TracerError,
    probe::{Probe, Watched},
};

/// The command-line clients of container engines and runtimes: a
/// container they start is started by a daemon (or a runtime) outside the
/// watched cgroup.
pub(crate) const ENGINE_CLIENTS: &[&str] = &[
    "docker", "podman", "nerdctl", "ctr", "crictl", "kubectl", "buildah", "runc", "crun",
];

/// What the watch is for, which words the messages use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Watch {
    Recording,
    Enforcing,
}

/// A process moved out of the watched cgroup tree.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub(crate) struct Escape {
    /// The process moved, and its command name.
    pub pid: u32,
    pub comm: String,
    /// The process that moved it (the same one when it moved itself).
    pub by_pid: u32,
    pub by_comm: String,
    /// The destination, as a path below the cgroup2 root ("/" for the
    /// root itself), and its cgroup id.
    pub destination: String,
    pub destination_id: u64,
}

impl Escape {
    /// One line for the summary.
    pub(crate) fn describe(&self, watch: Watch) -> String {
        let (cgroup, lost) = match watch {
            Watch::Recording => (
                "the recorded cgroup",
                "its syscalls after that are not recorded, and the profile may lack them",
            ),
            Watch::Enforcing => (
                "the watched cgroup",
                "the syscalls the profile denied it after that are not reported",
            ),
        };
        let moved = if self.by_pid == self.pid {
            "moved itself out of".to_owned()
        } else {
            format!(
                "was moved by process {} ({}) out of",
                self.by_pid, self.by_comm
            )
        };
        format!(
            "process {} ({}) {moved} {cgroup} to {}: {lost}",
            self.pid, self.comm, self.destination
        )
    }
}

/// A program a process of the watched cgroup executed (its last).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub(crate) struct Executed {
    pub pid: u32,
    /// The command name after the exec.
    pub comm: String,
    /// The file name given to `execve`: absolute where a shell or `env`
    /// searched `PATH` for it; as written otherwise.
    pub filename: String,
}

impl Executed {
    /// The engine client this is, by the file's base name.
    pub(crate) fn engine_client(&self) -> Option<&'static str> {
        let base = Path::new(&self.filename).file_name()?.to_str()?;
        ENGINE_CLIENTS.iter().copied().find(|c| *c == base)
    }
}

/// A shared object a process of the recorded tree opened and mapped
/// executable (see `profiler-ebpf/src/loads.rs`): its executable and its
/// DT_NEEDED libraries, and what it loaded at run time (`dlopen`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub(crate) struct LoadedObject {
    /// The program of the process that loaded it, as given to `execve`
    /// (see [`Executed::filename`]); `None` when not known.
    pub program: Option<String>,
    /// Its absolute path, as the process saw it (inside its root).
    pub path: String,
    /// The order of its first load among those kept.
    pub order: u64,
}

/// Everything the event hooks saw.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub(crate) struct KernelEvents {
    /// Moves out of the watched tree, the first [`common::ESCAPE_SLOTS`].
    pub escapes: Vec<Escape>,
    /// Moves out that happened beyond those.
    pub escapes_not_kept: u64,
    /// Processes of the tree that could not be noted (too many at once):
    /// their moves out were not looked for.
    pub members_lost: u64,
    /// While enforcing: the last program each process executed, by process
    /// id (gone or not). Empty while recording, which keeps `programs`.
    pub executed: BTreeMap<u32, Executed>,
    /// While recording: every program executed, with the first process
    /// that executed it (the processes may be gone).
    pub programs: Vec<Executed>,
    /// Executions that could not be kept (the map was full).
    pub executions_lost: u64,
    /// While recording with coverage: the shared objects each program's
    /// processes loaded, in the order of their first load.
    pub loaded: Vec<LoadedObject>,
    /// Loads that could not be kept (a path too long, a full map): the
    /// objects scanned may be incomplete.
    pub loads_lost: u64,
    /// Hooks that could not be attached, and why.
    pub unwatched: Vec<String>,
}

impl KernelEvents {
    /// The program process `pid` last executed, as given to `execve`.
    pub(crate) fn executable(&self, pid: u32) -> Option<&str> {
        self.executed.get(&pid).map(|e| e.filename.as_str())
    }

    /// Every program executed that is known: those of the processes
    /// kept by id, and (recording) those kept by program.
    pub(crate) fn all_executed(&self) -> impl Iterator<Item = &Executed> {
        self.programs.iter().chain(self.executed.values())
    }

    /// The engine clients the command started.
    pub(crate) fn engine_clients(&self) -> impl Iterator<Item = (&'static str, &Executed)> {
        self.all_executed()
            .filter_map(|e| e.engine_client().map(|c| (c, e)))
    }

    /// Whether a process left the watched tree: what it did after that was
    /// not seen, so the run is incomplete.
    pub(crate) fn lost_track(&self) -> bool {
        !self.escapes.is_empty() || self.escapes_not_kept > 0
    }

    /// What the user must be told, one line each. `command` is the
    /// watched command's words.
    pub(crate) fn warnings(&self, watch: Watch, command: &[String]) -> Vec<String> {
        let mut lines: Vec<String> = self.unwatched.clone();
        lines.extend(self.escapes.iter().map(|e| e.describe(watch)));
        if self.escapes_not_kept > 0 {
            lines.push(format!(
                "{} more process(es) left the {} cgroup",
                self.escapes_not_kept,
                match watch {
                    Watch::Recording => "recorded",
                    Watch::Enforcing => "watched",
                }
            ));
        }
        if self.members_lost > 0 {
            lines.push(format!(
                "{} process(es) were too many to follow (more than {} at once): they may have \
                 left the cgroup unseen",
                self.members_lost,
                common::MEMBER_SLOTS
            ));
        }
        if let Some(line) = self.engine_client_warning(watch, command) {
            lines.push(line);
        }
        if self.executions_lost > 0 {
            lines.push(format!(
                "{} program execution(s) were not kept (more than {} processes, or programs): \
                 the check for container engine clients is incomplete",
                self.executions_lost,
                common::EXEC_SLOTS
            ));
        }
        lines
    }

    fn engine_client_warning(&self, watch: Watch, command: &[String]) -> Option<String> {
        // The client run as the command itself (`docker --version`, `runc
        // --help`) hides nothing: a container run it would start is
        // recognised before the recording and recorded as a container.
        let named = command
            .first()
            .and_then(|first| Path::new(first).file_name())
            .and_then(|n| n.to_str());
        let (client, exec) = self
            .engine_clients()
            .find(|(client, _)| Some(*client) != named)?;
        let through = format!(" through `{}`", command.join(" "));
        let (verb, what, how) = match watch {
            Watch::Recording => ("recorded", "is not recorded", "record"),
            Watch::Enforcing => (
                "enforced",
                "does not run under this profile (nor is it watched)",
                "enforce --profile FILE",
            ),
        };
        Some(format!(
            "the {verb} command started the {client} client (pid {}, {}){through}: a container \
             it starts {what}, as the engine starts it outside this cgroup; give the container \
             command itself to syscall-profile: `syscall-profile {how} -- {client} run …`",
            exec.pid, exec.filename
        ))
    }
}

/// The hooks of the rare events (moves out of the cgroup, forks, exits,
/// execs), all raw tracepoints (this kernel has no kprobes), for a probe
/// to attach before anything else: one that cannot attach is told, and
/// the watch goes on without it. An enforcing watch watches for the
/// threads a filter kills at their exit too, which only changes the words.
pub(crate) fn hooks(watch: Watch) -> Vec<Watched> {
    let leaving = "processes leaving the cgroup";
    let hook = |program, tracepoint, what| Watched {
        program,
        tracepoint,
        what,
    };
    vec![
        hook(programs::FORK_DONE, "sched_process_fork", leaving),
        hook(
            programs::TASK_EXIT,
            "sched_process_exit",
            match watch {
                Watch::Recording => leaving,
                Watch::Enforcing => "processes leaving the cgroup, nor for threads a filter kills",
            },
        ),
        hook(programs::MOVE_DONE, "cgroup_attach_task", leaving),
        hook(
            programs::EXEC_DONE,
            "sched_process_exec",
            "the programs the command executes",
        ),
    ]
}

/// What is not watched where the kernel's layout is unknown: none of the
/// [`hooks`] is attached then.
pub(crate) fn without_layout(watch: Watch) -> &'static str {
    match watch {
        Watch::Recording => "processes leaving the cgroup",
        Watch::Enforcing => "processes leaving the cgroup nor for seccomp kills",
    }
}

/// Reads what the event hooks of `probe` saw so far.
pub(crate) fn read(probe: &Probe) -> Result<KernelEvents, TracerError> {
    let map = |name: &'static str| probe.map(name);
    let map_err =
        |name: &'static str| move |source: MapError| TracerError::Map { map: name, source };
    let mut events = KernelEvents {
        unwatched: probe.unwatched().to_vec(),
        ..KernelEvents::default()
    };

    let counts: Array<_, u64> =
        Array::try_from(map(maps::ESCAPE_COUNT)?).map_err(map_err(maps::ESCAPE_COUNT))?;
    let count = |index| counts.get(&index, 0).unwrap_or(0);
    let escaped = count(event_counts::ESCAPES);
    events.members_lost = count(event_counts::MEMBERS_LOST);
    events.executions_lost = count(event_counts::EXECS_LOST);
    let kept = escaped.min(u64::from(common::ESCAPE_SLOTS));
    events.escapes_not_kept = escaped - kept;
    let escapes: Array<_, common::Escape> =
        Array::try_from(map(maps::ESCAPES)?).map_err(map_err(maps::ESCAPES))?;
    for index in 0..kept as u32 {
        let e = escapes.get(&index, 0).map_err(map_err(maps::ESCAPES))?;
        let path = text(&e.path);
        events.escapes.push(Escape {
            pid: e.tgid,
            comm: text(&e.comm),
            by_pid: e.writer_tgid,
            by_comm: text(&e.writer_comm),
            destination: if path.is_empty() {
                format!("the cgroup with id {}", e.dst_cgroup_id)
            } else {
                path
            },
            destination_id: e.dst_cgroup_id,
        });
    }

    let execs: HashMap<_, u32, common::Exec> =
        HashMap::try_from(map(maps::EXECS)?).map_err(map_err(maps::EXECS))?;
    for entry in execs.iter() {
        let (pid, exec) = entry.map_err(map_err(maps::EXECS))?;
        events.executed.insert(
            pid,
            Executed {
                pid,
                comm: text(&exec.comm),
                filename: text(&exec.filename),
            },
        );
    }
    let programs: HashMap<_, common::Exec, u32> =
        HashMap::try_from(map(maps::PROGRAMS)?).map_err(map_err(maps::PROGRAMS))?;
    // The programs by the id the kernel side notes a process's loads with.
    let mut by_id: BTreeMap<u32, String> = BTreeMap::new();
    for entry in programs.iter() {
        let (exec, pid) = entry.map_err(map_err(maps::PROGRAMS))?;
        by_id.insert(common::program_id(&exec.filename), text(&exec.filename));
        events.programs.push(Executed {
            pid,
            comm: text(&exec.comm),
            filename: text(&exec.filename),
        });
    }
    events.programs.sort_by_key(|e| e.pid);

    events.loads_lost = count(event_counts::LOADS_LOST);
    let loaded: HashMap<_, common::Loaded, u64> =
        HashMap::try_from(map(maps::LOADED)?).map_err(map_err(maps::LOADED))?;
    for entry in loaded.iter() {
        let (key, order) = entry.map_err(map_err(maps::LOADED))?;
        let program = by_id.get(&key.program).cloned();
        events.loaded.push(LoadedObject {
            program,
            path: text(&key.path),
            order,
        });
    }
    events.loaded.sort_by_key(|l| l.order);
    Ok(events)
}

/// A NUL-terminated byte string of the kernel as text.
pub(crate) fn text(bytes: &[u8]) -> String {
    let len = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..len]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn escape(pid: u32, by_pid: u32) -> Escape {
        Escape {
            pid,
            comm: "escape".into(),
            by_pid,
            by_comm: "bash".into(),
            destination: "/".into(),
            destination_id: 1,
        }
    }

    #[test]
    fn describes_a_process_that_moved_itself_or_was_moved() {
        assert_eq!(
            escape(1234, 1234).describe(Watch::Recording),
            "process 1234 (escape) moved itself out of the recorded cgroup to /: its syscalls \
             after that are not recorded, and the profile may lack them"
        );
        assert!(escape(1234, 99).describe(Watch::Enforcing).starts_with(
            "process 1234 (escape) was moved by process 99 (bash) out of the watched cgroup to /"
        ));
    }

    /// Both watches attach the same hooks of rare events; enforcing says
    /// that a thread a filter kills goes unseen too.
    #[test]
    fn the_event_hooks_differ_by_their_words_only() {
        let recording = hooks(Watch::Recording);
        let enforcing = hooks(Watch::Enforcing);
        let attached = |hooks: &[Watched]| {
            hooks
                .iter()
                .map(|h| (h.program, h.tracepoint))
                .collect::<Vec<_>>()
        };
        assert_eq!(attached(&recording), attached(&enforcing));
        let differing: Vec<&str> = recording
            .iter()
            .zip(&enforcing)
            .filter(|(r, e)| r.what != e.what)
            .map(|(_, e)| e.what)
            .collect();
        assert_eq!(
            differing,
            ["processes leaving the cgroup, nor for threads a filter kills"]
        );
    }

    #[test]
    fn an_engine_client_by_base_name_only() {
        let exec = |filename: &str| Executed {
            pid: 7,
            comm: "x".into(),
            filename: filename.into(),
        };
        assert_eq!(exec("/usr/bin/docker").engine_client(), Some("docker"));
        assert_eq!(exec("/tmp/x/podman").engine_client(), Some("podman"));
        assert_eq!(exec("/usr/bin/dockerd").engine_client(), None);
        assert_eq!(exec("/usr/bin/true").engine_client(), None);
        let mut events = KernelEvents::default();
        events.executed.insert(7, exec("/usr/bin/docker"));
        let words = ["sh".to_owned(), "-c".to_owned(), "docker run x".to_owned()];
        let warnings = events.warnings(Watch::Recording, &words);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0]
                .contains("docker client (pid 7, /usr/bin/docker) through `sh -c docker run x`"),
            "{}",
            warnings[0]
        );
    }
}
