//! What a recording will watch, checked before anything runs: the
//! command (or the workload to attach to), the outputs, the privileges,
//! the engine and the default it is set against.

use super::*;

/// What a recording will run, and where its results go, once checked.
pub(super) struct Plan {
    pub(super) arch: Arch,
    pub(super) target: Planned,
    /// For a container: the engine's default as it applies to the run.
    pub(super) baseline: Option<ContainerBaseline>,
    /// For a native command: the default it is set against.
    pub(super) native_default: Option<NativeDefault>,
    /// The profile's output (none for `check` and `--complain`) and the stats'.
    pub(super) outputs: (Option<Output>, Option<Output>),
}

/// What a recording watches, checked.
pub(super) enum Planned {
    /// A command the tool starts.
    Command(Command),
    /// A workload that already runs (`--attach`).
    Attached(Box<Attached>),
}

/// A command to start: a native program, or a container run whose engine
/// answered.
pub(super) enum Command {
    Native(PathBuf),
    Container(EngineRun),
}

impl Plan {
    /// The checks that need no engine come first, then the outputs (so a bad
    /// path fails before any work), the privileges, and the engine.
    pub(super) fn check(options: &RecordOptions) -> Result<Plan, RecordError> {
        if let Some((target, given)) = &options.attach {
            return Plan::attach(options, target, given);
        }
        let program = options.command.first().ok_or(RecordError::NoCommand)?;
        let container_run = ContainerRun::parse(&options.command);
        match &container_run {
            Some(_) if options.until.is_some() => return Err(RecordError::UntilContainer),
            Some(run) => run.check_supervisable(options.user.is_some())?,
            None if options.keep_running => return Err(RecordError::KeepRunningNative),
            None => {}
        }
        if container_run.is_some() && options.baseline.is_some() {
            return Err(RecordError::BaselineContainer);
        }
        // A --baseline FILE that cannot be read fails before anything runs.
        let native_default = match &container_run {
            None => Some(NativeDefault::of(options.baseline.as_ref())?),
            Some(_) => None,
        };
        let native = match &container_run {
            None => Some(process::resolve(program)?),
            Some(_) => None,
        };
        let (output, stats_output) = Plan::outputs(options)?;
        let arch = Arch::host().ok_or(RecordError::UnsupportedArch(std::env::consts::ARCH))?;
        ebpf::check_privileges()?;
        let target = match (native, container_run) {
            (Some(path), _) => Command::Native(path),
            (None, Some(run)) => Command::Container(EngineRun::prepare(run)?),
            (None, None) => return Err(RecordError::NoCommand),
        };
        let baseline = match &target {
            Command::Container(engine_run) => Some(ContainerBaseline::of(engine_run)?),
            Command::Native(_) => None,
        };
        Ok(Plan {
            arch,
            target: Planned::Command(target),
            baseline,
            native_default,
            outputs: (output, stats_output),
        })
    }

    /// The profile's output (none for `check` and `--complain`) and the
    /// stats', distinct and each checked writable.
    fn outputs(options: &RecordOptions) -> Result<(Option<Output>, Option<Output>), RecordError> {
        let profile_path = match options.discard_profile {
            true => None,
            false => Some(options.output.as_deref().unwrap_or("-".as_ref())),
        };
        Output::check_distinct(&[("-o", profile_path), ("--stats", options.stats.as_deref())])?;
        let output = match options.discard_profile {
            true => None,
            false => Some(Output::prepare(options.output.as_deref())?),
        };
        let stats_output = Output::prepare_if_given(options.stats.as_deref())?;
        Ok((output, stats_output))
    }

    /// The plan of `--attach`: the options that apply only to a command
    /// the tool starts are refused, the outputs checked, then the
    /// privileges, then the target found; a container is set against its
    /// engine's default, anything else against Docker's (or --baseline).
    fn attach(
        options: &RecordOptions,
        target: &AttachTarget,
        given: &str,
    ) -> Result<Plan, RecordError> {
        let refused = [
            ("until", options.until.is_some()),
            ("keep-running", options.keep_running),
            ("user", options.user.is_some()),
        ];
        if let Some((option, _)) = refused.iter().find(|(_, given)| *given) {
            return Err(RecordError::AttachWith { option });
        }
        let (output, stats_output) = Plan::outputs(options)?;
        let arch = Arch::host().ok_or(RecordError::UnsupportedArch(std::env::consts::ARCH))?;
        ebpf::check_privileges()?;
        let attached = Attached::resolve(target, given)?;
        let (baseline, native_default) = match &attached.container {
            Some(running) => {
                if options.baseline.is_some() {
                    return Err(RecordError::BaselineContainer);
                }
                (Some(ContainerBaseline::of_running(running)?), None)
            }
            None => (None, Some(NativeDefault::of(options.baseline.as_ref())?)),
        };
        Ok(Plan {
            arch,
            target: Planned::Attached(Box::new(attached)),
            baseline,
            native_default,
            outputs: (output, stats_output),
        })
    }
}
