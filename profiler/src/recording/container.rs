//! Recording a container: the options added to the user's `docker run` /
//! `podman run`, and what the recording learns of the runtime.

use std::{ffi::OsString, io::Write, path::Path};

use tempfile::NamedTempFile;

use super::{RecordError, cgroup::RecordingCgroup};
use crate::engine::{ContainerRun, EngineError, EngineRun};

/// The seccomp profile a container is recorded under: it allows everything,
/// so the workload runs as it would unconfined, but it is still a filter, so
/// the runtime installs it, and the moment it does marks where the recorded
/// part starts (what the filter will see).
const RECORDING_PROFILE: &str = r#"{"defaultAction":"SCMP_ACT_ALLOW"}"#;

/// A container run prepared for recording.
pub struct ContainerRecording {
    pub engine_run: EngineRun,
    /// The recording profile, alive as long as the engine may read it.
    _recording_profile: NamedTempFile,
    /// The command line to run: the user's, plus what recording needs.
    pub argv: Vec<OsString>,
    /// One line for the user: what was added, and what was replaced.
    pub notice: String,
    /// Said once, before the run: e.g. the user's own seccomp option.
    pub warnings: Vec<String>,
}

impl ContainerRecording {
    /// Checks the user's run before anything is traced. The checks that
    /// need no engine come first.
    pub fn check(run: &ContainerRun) -> Result<(), EngineError> {
        if run.privileged() {
            return Err(EngineError::Privileged);
        }
        if let Some(given) = run.find(&["cgroup-parent"]).next() {
            return Err(EngineError::CgroupParentGiven {
                value: given.value.clone().unwrap_or_default(),
            });
        }
        Ok(())
    }

    /// Prepares the run to start below `cgroup`, under the recording profile.
    pub fn prepare(
        engine_run: EngineRun,
        cgroup: &RecordingCgroup,
    ) -> Result<ContainerRecording, RecordError> {
        let mut profile = tempfile::Builder::new()
            .prefix("syscall-profile-recording-")
            .suffix(".json")
            .tempfile()
            .and_then(|mut f| f.write_all(RECORDING_PROFILE.as_bytes()).map(|()| f))
            .map_err(RecordError::TempFile)?;
        profile.flush().map_err(RecordError::TempFile)?;

        let run = &engine_run.run;
        let mut warnings = Vec::new();
        for option in run.seccomp_options() {
            let value = option.value.as_deref().unwrap_or_default();
            let mut text = format!(
                "your `--security-opt {value}` is replaced while recording: a container is \
                 recorded under a filter that allows everything"
            );
            if value.ends_with("unconfined") {
                text.push_str(
                    "; note that runs with seccomp=unconfined do not enforce any profile, \
                     the learned one included",
                );
            }
            warnings.push(text);
        }

        let parent = cgroup.relative().to_string_lossy().into_owned();
        let seccomp = format!("seccomp={}", profile.path().display());
        let extra: Vec<OsString> = ["--cgroup-parent", &parent, "--security-opt", &seccomp]
            .map(OsString::from)
            .to_vec();
        let notice = format!(
            "recording the container: added `--cgroup-parent {parent}` (watched from before the \
             container exists) and `--security-opt {seccomp}` (allows everything; its install \
             marks where the profile starts)"
        );
        Ok(ContainerRecording {
            argv: run.rewritten(&extra),
            engine_run,
            _recording_profile: profile,
            notice,
            warnings,
        })
    }

    pub fn detached(&self) -> bool {
        self.engine_run.run.detached()
    }

    /// The `ENGINE [globals] wait ID` command that waits for a detached
    /// container and prints its exit status.
    pub fn wait_command(&self, container_id: &str) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(&self.engine_run.cli);
        cmd.args(self.engine_run.global_args())
            .args(["wait", container_id])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true);
        cmd
    }

    pub fn cli(&self) -> &Path {
        &self.engine_run.cli
    }
}

/// The container id a detached `run` printed: its last non-empty line.
pub fn container_id(stdout: &str) -> Option<String> {
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
