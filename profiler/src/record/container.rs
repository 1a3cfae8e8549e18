//! Recording a container: the options added to the user's `docker run` /
//! `podman run`, and what becomes of the container once the recording ends.
//!
//! A container is recorded under a seccomp profile that allows everything:
//! it must not outlive the recording with it. So every container the
//! recorder starts carries a label naming the run; when the recording ends
//! a container still running is stopped (unless `--keep-running` asks
//! otherwise, which is then said, naming it), a stopped one the engine did
//! not remove is named with the command that removes it, and the guardian
//! removes them all should the recorder be killed, until the recorder has
//! said what became of them (see [`crate::record::Recording::guardian`]).

use std::{
    ffi::OsString,
    fs::File,
    io::{Seek, Write},
    os::unix::io::AsRawFd,
    path::Path,
};

use super::RecordError;
use crate::{
    engine::{Container, ContainerRun, Engine, EngineError, EngineRun},
    session::{GRACE, RunCgroup, guardian::Duty},
};

/// The seccomp profile a container is recorded under: it allows everything,
/// so the workload runs as it would unconfined, but it is still a filter, so
/// the runtime installs it, and the moment it does marks where the recorded
/// part starts (what the filter will see). Everything but `clone3`, which
/// gets ENOSYS as under the learned profile (and the engines' defaults): the
/// libc then falls back to `clone`, so the recorded run takes the path the
/// enforced one will take, and `clone`'s flags are recorded.
const RECORDING_PROFILE: &str = r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["clone3"],"action":"SCMP_ACT_ERRNO","errnoRet":38}]}"#;

/// The label key every recorded container carries; its value names the run.
pub(super) const LABEL_KEY: &str = "io.syscall-profile.recording";

/// A container run prepared for recording.
pub(super) struct ContainerRecording {
    pub engine_run: EngineRun,
    /// The recording profile: a file with no name (it vanishes with this
    /// process, however it ends), read by the engine's CLI through
    /// `/proc/PID/fd/N`.
    _recording_profile: File,
    /// The command line to run: the user's, plus what recording needs.
    pub argv: Vec<OsString>,
    /// `key=value` of the label this run's containers carry.
    pub label: String,
    /// The OCI runtime, asked before the run (the engine may be gone after).
    pub runtime: Option<String>,
    /// One line for the user: what was added, and what was replaced.
    pub notice: String,
    /// Said once, before the run: e.g. the user's own seccomp option.
    pub warnings: Vec<String>,
}

impl ContainerRecording {
    /// Prepares the run to start below `cgroup`, under the recording profile
    /// (and, with `keep_running`, to be left running if it still runs when
    /// the recording ends).
    pub(super) fn prepare(
        engine_run: EngineRun,
        cgroup: &RunCgroup,
        keep_running: bool,
    ) -> Result<ContainerRecording, RecordError> {
        let mut profile = tempfile::tempfile().map_err(RecordError::TempFile)?;
        profile
            .write_all(RECORDING_PROFILE.as_bytes())
            .and_then(|()| profile.rewind())
            .map_err(RecordError::TempFile)?;
        let profile_path = format!("/proc/{}/fd/{}", std::process::id(), profile.as_raw_fd());

        let run = &engine_run.run;
        let mut warnings = Vec::new();
        for option in run.seccomp_options() {
            let value = option.value.as_deref().unwrap_or_default();
            let mut text = format!(
                "your `{}` is replaced while recording: a container is recorded under a \
                 filter that allows everything",
                ContainerRun::describe_option(option)
            );
            if value.ends_with("unconfined") {
                text.push_str(
                    "; note that runs with seccomp=unconfined do not enforce any profile, \
                     the learned one included",
                );
            }
            warnings.push(text);
        }

        let label = format!("{LABEL_KEY}={}", cgroup.name());
        let (cgroup_option, cgroup_value) = run.cgroup_args(cgroup.engine_parent()?);
        let mut extra: Vec<OsString> =
            vec![cgroup_option.clone().into(), cgroup_value.clone().into()];
        extra.extend(run.seccomp_args(&profile_path));
        extra.extend(["--label".into(), label.clone().into()]);
        let seccomp_words = run.seccomp_args("<allow-all>");
        let seccomp_words: Vec<String> = seccomp_words
            .iter()
            .map(|w| w.to_string_lossy().into_owned())
            .collect();
        let at_the_end = match keep_running {
            false => "the container is stopped when the recording ends",
            true => {
                "a container still running when the recording ends is left running under it \
                 (--keep-running)"
            }
        };
        let notice = format!(
            "recording the container: added `{cgroup_option} {cgroup_value}` (watched from \
             before the container exists), `{}` (its install marks where the profile starts; \
             clone3 gets ENOSYS there, as under the learned profile, so that the libc takes \
             clone; {at_the_end}) and `--label {label}`",
            seccomp_words.join(" ")
        );
        let runtime = engine_run.runtime();
        Ok(ContainerRecording {
            argv: run.rewritten(&extra),
            engine_run,
            _recording_profile: profile,
            label,
            runtime,
            notice,
            warnings,
        })
    }

    /// What the guardian removes should the recorder die.
    pub(super) fn guardian_duty(&self) -> Duty {
        Duty::Containers {
            engine: self.engine_run.run.engine.name().to_owned(),
            cli: self.engine_run.cli.clone(),
            globals: self.engine_run.global_args().to_vec(),
            label: self.label.clone(),
            what: "created with the recording profile".to_owned(),
        }
    }

    pub(super) fn detached(&self) -> bool {
        self.engine_run.run.detached()
    }

    /// The `ENGINE [globals] wait ID` command that waits for a detached
    /// container and prints its exit status.
    pub(super) fn wait_command(&self, container_id: &str) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(&self.engine_run.cli);
        cmd.args(self.engine_run.global_args())
            .args(["wait", container_id])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true);
        cmd
    }

    pub(super) fn cli(&self) -> &Path {
        &self.engine_run.cli
    }

    /// This run's containers, running or not; an error when the engine
    /// cannot be asked.
    pub(super) fn containers(&self) -> Result<Vec<Container>, EngineError> {
        self.engine_run.containers_with_label(&self.label)
    }

    /// What the user is told when the engine cannot say what became of the
    /// run's container (its daemon gone or hanging): that nothing is known,
    /// and the command that removes it once the engine answers. (The
    /// processes in the run's cgroup are killed all the same.)
    fn unknown_fate(&self, error: &EngineError) -> String {
        format!(
            "cannot tell what became of this run's container ({}): {error}. It was created \
             with the recording profile, which allows every syscall; once the engine answers, \
             remove it with `{}`",
            self.label,
            self.engine_run
                .run
                .engine
                .remove_labelled_hint(self.engine_run.global_args(), &self.label)
        )
    }

    /// Once the recording is over: stops a container still running (unless
    /// `keep_running`), and makes sure none created with the recording
    /// profile is left to be started again without a word. Returns what the
    /// user must be told and, when a container was kept running, what the
    /// guardian says of it should the tool be killed before it told.
    pub(super) fn settle(
        &self,
        still_running: bool,
        keep_running: bool,
    ) -> (Vec<String>, Option<Duty>) {
        let mut said = Vec::new();
        let engine = self.engine_run.run.engine;
        let containers = match self.containers() {
            Ok(containers) => containers,
            Err(e) => {
                said.push(self.unknown_fate(&e));
                // Kept or not, nothing more can be done through the engine;
                // the guardian's duty stays, should the tool be killed.
                return (said, None);
            }
        };
        if still_running && keep_running {
            let mut kept = Vec::new();
            for c in &containers {
                let stop = engine.stop_hint(&c.id[..c.id.len().min(12)]);
                said.push(format!(
                    "the container {c} is still running, under the recording profile, which \
                     allows every syscall (--keep-running); stop it with `{stop}` and run it \
                     again under the learned profile"
                ));
                kept.push(format!(
                    "left the container {c} running under the recording profile, which allows \
                     every syscall, as --keep-running asked (stop it with `{stop}`)"
                ));
            }
            if kept.is_empty() {
                // The engine did not answer: the run's label still names it.
                kept.push(format!(
                    "left the container labelled {} running under the recording profile, which \
                     allows every syscall, as --keep-running asked",
                    self.label
                ));
            }
            let announce = Duty::Announce {
                text: kept.join("; "),
            };
            return (said, Some(announce));
        }
        if still_running {
            for c in &containers {
                if self.engine_run.stop(c, GRACE) {
                    said.push(format!(
                        "stopped the container {c}, which was still running when the recording \
                         ended: it ran under the recording profile, which allows every syscall \
                         (give --keep-running to leave it running)"
                    ));
                }
            }
        }
        let remove_intent = self.engine_run.run.flag(&["rm"]);
        // What is left: stopped containers the engine did not remove.
        let left = match self.containers() {
            Ok(left) => left,
            Err(e) => {
                said.push(self.unknown_fate(&e));
                return (said, None);
            }
        };
        for c in left {
            if remove_intent {
                if self.engine_run.remove(&c) {
                    said.push(format!(
                        "removed the container {c}, created with the recording profile"
                    ));
                }
                continue;
            }
            let start = match engine {
                Engine::Containerd => "ctr tasks start",
                Engine::Docker | Engine::Podman => &format!("{} start", engine.cli_name()),
            };
            said.push(format!(
                "the container {c} was created with the recording profile, which allows every \
                 syscall: `{start}` would run it so. Remove it (`{}`) and run the image again \
                 under the learned profile",
                engine.remove_hint(&c.name)
            ));
        }
        (said, None)
    }
}

/// The container id a detached `run` printed: its last non-empty line.
pub(super) fn container_id(stdout: &str) -> Option<String> {
    stdout
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_hexdigit()))
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_id_is_the_last_hex_line() {
        let out = "Unable to find image locally\nabc123def\n";
        assert_eq!(container_id(out).as_deref(), Some("abc123def"));
        assert_eq!(container_id("no id here\n"), None);
    }
}
