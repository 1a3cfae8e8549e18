//! `syscall-profile record`: run a command in a fresh cgroup with the
//! counting program attached, and turn what it counted into a profile.

mod attach;
mod conclude;
mod container;
mod plan;
pub mod stats;
pub(crate) mod tracer;

use std::{
    ffi::OsString,
    path::PathBuf,
    time::{Duration, Instant},
};

pub(crate) use self::conclude::count_entries;
use self::{
    conclude::*,
    container::ContainerRecording,
    plan::{Command, Plan, Planned},
    stats::{NumberCount, OutOfRange, STATS_SCHEMA, Stats, SyscallCount},
    tracer::{Boundary, Observation, Tracer},
};
use crate::{
    baseline::{Baseline, BaselineChoice},
    coverage::{self, Coverage},
    engine::{ContainerRun, Engine, EngineError, EngineRun, inspect::Running, runtime_base},
    exit, export,
    export::runtime_tail,
    implied::{self, Implied},
    notice::{self, Notice},
    output::{Output, OutputError},
    profile::eval::{DockerContext, EffectivePolicy},
    profile::{Arch, Profile, SyscallSet, table},
    session::hook::Hook,
    session::{
        self, GRACE, Kind, Outlived, Session, SessionError, Stop, Supervised, Until,
        attached::{AttachError, AttachTarget, Attached},
        ebpf::{self, TracerError},
        events::Watch,
        guardian::{Duty, Guardian},
        process::{self, CommandError, RunAs},
        redact,
    },
    syscall_args::rules::{self, Granularity, Learned, Learning, Widening},
};

/// How often the live line re-reads the counters.
const REFRESH: Duration = Duration::from_millis(250);

/// How often a container recording looks whether the entrypoint runs, to
/// detach the runtime phase's `sys_exit` program: until then every syscall
/// of every task of the host runs it, so the sooner the better; a look is
/// one read of a one-entry map.
const RUNTIME_PHASE_POLL: Duration = Duration::from_millis(20);

#[derive(Debug, Clone)]
pub(crate) struct RecordOptions {
    /// The command and its arguments; the first is looked up in `PATH`.
    pub command: Vec<OsString>,
    /// Where the profile goes; standard output when `None`.
    pub output: Option<PathBuf>,
    /// Keep the profile in memory only (for `check` and `--complain`).
    pub discard_profile: bool,
    /// Where the per-syscall counts go, if anywhere.
    pub stats: Option<PathBuf>,
    /// No summary and no notes of progress (the live view is `live`'s).
    pub quiet: bool,
    /// The run's live view (the command line's line on a terminal);
    /// nothing by default.
    pub live: notice::LiveStart,
    pub hook: Hook,
    /// End the recording after this long: the command gets SIGTERM, and
    /// SIGKILL after the grace period.
    pub duration: Option<Duration>,
    /// For a container: leave the runtime's base set out of the profile.
    pub no_runtime_base: bool,
    /// Run a native command as this user.
    pub user: Option<RunAs>,
    /// The profile's comment; by default it names the command (redacted).
    pub comment: Option<String>,
    /// For a container still running when the recording ends: leave it
    /// running (under the recording profile) instead of stopping it.
    pub keep_running: bool,
    /// Leave out the syscalls the kernel and language runtimes make by
    /// timing (`crate::implied`): the profile holds only what was observed.
    pub no_implied: bool,
    /// Set the observed syscalls against what the recorded programs can
    /// reach ([`crate::coverage`]; native commands).
    pub coverage: bool,
    /// Also allow what the programs can reach that Docker's default allows
    /// (`--include reachable`).
    pub include_reachable: bool,
    /// The risky syscalls `--include reachable` adds too, where reachable
    /// and allowed by the default (`--include-risky`).
    pub include_risky: Vec<String>,
    /// How much of the arguments the profile checks (`--args`).
    pub granularity: Granularity,
    /// The form the profile is written in (`--to`, export's vocabulary),
    /// with the target's options; Docker's JSON when `None`.
    pub to: Option<(export::Format, export::Options)>,
    /// Write the profile in complain mode (`--complain`,
    /// [`export::complain`]): with `to` or without.
    pub complain: bool,
    /// When a native recording ends (`--until`; `None`: the default,
    /// [`Until::Tree`]). Refused for a container, whose end its engine
    /// defines.
    pub until: Option<Until>,
    /// Where what the recorder tells the user goes (what it added to a
    /// container's command line, that it waits for what the command left
    /// running, a detached container's id): the command line renders it;
    /// nowhere by default.
    pub say: notice::Sink,
    /// For a native command: the default what the run used is set against
    /// (the syscalls beyond it are named, `--include reachable` adds within
    /// it); Docker's when `None`. A container has its engine's.
    pub baseline: Option<BaselineChoice>,
    /// `--attach TARGET`: record a workload that already runs, from now
    /// on, instead of a command (the target, and the word given for it).
    pub attach: Option<(AttachTarget, String)>,
}

impl RecordOptions {
    /// Options for recording `command` with every default.
    pub(crate) fn new(command: Vec<OsString>) -> RecordOptions {
        RecordOptions {
            command,
            output: None,
            discard_profile: false,
            stats: None,
            quiet: false,
            live: notice::hidden,
            hook: Hook::default(),
            duration: None,
            no_runtime_base: false,
            user: None,
            comment: None,
            keep_running: false,
            no_implied: false,
            coverage: true,
            include_reachable: false,
            include_risky: Vec::new(),
            granularity: Granularity::default(),
            to: None,
            complain: false,
            until: None,
            say: notice::nowhere,
            baseline: None,
            attach: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error(
        "no command to record: give it after `--`, e.g. `syscall-profile record -o app.json -- ./app`"
    )]
    NoCommand,
    #[error(transparent)]
    Command(#[from] CommandError),
    #[error(transparent)]
    Output(#[from] OutputError),
    #[error(
        "this host's architecture ({0}) has no syscall table here; x86_64 and aarch64 are supported"
    )]
    UnsupportedArch(&'static str),
    #[error(transparent)]
    Session(#[from] SessionError),
    #[error(transparent)]
    Cgroup(#[from] session::CgroupError),
    #[error(transparent)]
    Tracer(#[from] TracerError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("cannot write the recording's seccomp profile to a temporary file: {0}")]
    TempFile(std::io::Error),
    #[error("--keep-running applies to containers only")]
    KeepRunningNative,
    #[error(
        "--until applies to native commands: a container's run ends when its init process \
         does (the kernel then ends the rest of it); leave --until out"
    )]
    UntilContainer,
    #[error(
        "--baseline applies to native commands: a container's recording is set against its \
         engine's own default (leave --baseline out)"
    )]
    BaselineContainer,
    #[error(transparent)]
    Baseline(#[from] crate::baseline::BaselineError),
    #[error(transparent)]
    Attach(#[from] AttachError),
    #[error(
        "--{option} applies to a command the tool starts; an attached workload is left as it \
         is (leave --{option} out)"
    )]
    AttachWith { option: &'static str },
    #[error("the recording is done but cannot be written --to {to}: {source}")]
    Export {
        to: &'static str,
        source: export::ExportError,
    },
}

impl RecordError {
    /// The exit status `record` ends with for this error.
    pub(crate) fn exit_code(&self) -> i32 {
        match self {
            RecordError::NoCommand
            | RecordError::AttachWith { .. }
            | RecordError::Attach(AttachError::Syntax { .. })
            | RecordError::UntilContainer
            | RecordError::BaselineContainer => exit::USAGE,
            RecordError::Command(e) => e.exit_code(),
            RecordError::Session(e) => e.exit_code(exit::TOOL_FAILED),
            _ => exit::TOOL_FAILED,
        }
    }
}

/// The outcome of a recording whose command ran.
#[derive(Debug)]
pub(crate) struct Recording {
    /// The command's exit status, as a shell reports it; `record` exits with it.
    pub exit_code: i32,
    pub observation: Observation,
    pub syscalls: SyscallSet,
    pub profile: Profile,
    pub stats: Stats,
    /// Where the profile was written (`None`: standard output or nowhere).
    pub written_to: Option<PathBuf>,
    /// Things the user should know: unknown numbers, names libseccomp lacks,
    /// processes killed at the end.
    pub warnings: Vec<String>,
    /// For a container: what the runtime contributed.
    pub runtime: Option<RuntimeReport>,
    /// Syscalls added because the kernel or a runtime makes them by timing.
    pub implied: Implied,
    /// What the target of `--to` says of the profile written (how to use
    /// it there).
    pub export_notes: Vec<String>,
    /// What the recorded programs can reach, against what was observed.
    pub coverage: Option<Coverage>,
    /// What the captured argument values became in the profile.
    pub learned: Learned,
    /// The processes that outlived the command, which the recording
    /// waited for (`--until tree`).
    pub outlived: Option<Outlived>,
    /// The default what the run used is set against, as the summary names
    /// it: the container engine's, or a native command's (Docker's, or
    /// `--baseline`'s).
    pub default_name: String,
    /// The run's guardian, still in charge of what the run made outside
    /// its cgroup: a recorded container the engine keeps (no `--rm`) holds
    /// the recording profile, which allows every syscall, and is removed by
    /// the guardian should the tool be killed before the command using the
    /// recording is done. Dropping the recording (or this) releases it:
    /// keep it until the command's last output is written.
    pub guardian: Guardian,
}

/// What a container's runtime contributed to its profile.
#[derive(Debug, Clone)]
pub(crate) struct RuntimeReport {
    /// The OCI runtime (`runc`, `crun`), as the engine names it.
    pub name: String,
    /// Syscalls the runtime made in this run after installing the filter,
    /// up to the entrypoint's `execve`.
    pub observed: SyscallSet,
    /// The base set merged in (empty with `--no-runtime-base` or when there
    /// is none for this runtime), and the names it added to this run's.
    pub base: SyscallSet,
    pub added_by_base: SyscallSet,
    /// The argument values of the base set (see [`runtime_base`]).
    pub base_arguments: std::collections::BTreeMap<String, std::collections::BTreeSet<Vec<u64>>>,
}

/// What is recorded: a native command, or a container run.
enum Target {
    Native(PathBuf),
    Container(Box<ContainerRecording>),
}

/// What the recorder does while the command runs: the live line, and for a
/// container the end of the runtime phase.
struct Watching<'a> {
    tracer: &'a mut Tracer,
    live: &'a dyn notice::Live,
    boundary: Boundary,
    warnings: &'a mut Vec<String>,
    /// For a container: how to stop it at the deadline.
    container: Option<(&'a ContainerRecording, bool)>,
    /// The deadline ended the recording and the container was kept running.
    left_running: bool,
    /// When the live line last re-read the counters.
    last_refresh: Option<Instant>,
    /// Where what is said during the run goes.
    say: notice::Sink,
    /// Given the counters when they are re-read.
    observer: Option<Observer<'a>>,
}

impl Supervised for Watching<'_> {
    fn tick(&mut self) {
        if self.boundary == Boundary::SeccompFilter
            && let Err(e) = self.tracer.end_runtime_phase_if_over()
        {
            self.warnings.push(e.to_string());
        }
        let due = self.last_refresh.is_none_or(|at| at.elapsed() >= REFRESH);
        if (self.live.is_shown() || self.observer.is_some())
            && due
            && let Ok(observation) = self.tracer.snapshot()
        {
            self.last_refresh = Some(Instant::now());
            self.live
                .update(observation.distinct(), observation.total_calls());
            if let Some(observer) = self.observer.as_mut() {
                observer(&observation);
            }
        }
    }

    fn say(&mut self, text: &str) {
        let say = self.say;
        self.live
            .suspend(&mut || say(Notice::Note(text.to_owned())));
    }

    fn stop(&mut self, session: &Session, pid: Option<u32>, how: Stop) -> String {
        let Some((recording, keep_running)) = self.container else {
            return native_stop(session, pid, how);
        };
        if keep_running {
            // The container is left running; only the engine's CLI (or
            // `wait`) goes, which ends the recording.
            process::send_signal(pid, libc::SIGKILL);
            self.left_running = true;
            return "the recording ended at its --duration; the container is left running \
                    (--keep-running)"
                .to_owned();
        }
        match how {
            Stop::Term => {
                let containers = match recording.containers() {
                    Ok(containers) => containers,
                    // The engine cannot stop what it cannot list: its
                    // processes are killed here instead.
                    Err(e) => {
                        let _ = session.cgroup().kill_all();
                        process::send_signal(pid, libc::SIGKILL);
                        return format!(
                            "the recording ended at its --duration; the engine does not say \
                             which container is this run's ({e}): killed its processes"
                        );
                    }
                };
                let named: Vec<String> = containers.iter().map(ToString::to_string).collect();
                for c in containers {
                    let engine = recording.engine_run.clone();
                    // Stopped in the background: `stop` waits out the grace
                    // period, and the supervision must go on meanwhile.
                    std::thread::spawn(move || engine.stop(&c, GRACE / 2));
                }
                format!(
                    "the recording ended at its --duration: stopped the container {} (SIGTERM, \
                     then SIGKILL after the grace period): it ran under the recording profile, \
                     which allows every syscall (give --keep-running to leave it running)",
                    named.join(", ")
                )
            }
            Stop::Kill => {
                let _ = session.cgroup().kill_all();
                process::send_signal(pid, libc::SIGKILL);
                "the container did not end within the grace period: killed it".to_owned()
            }
        }
    }
}

/// The native stop, named for the recorder's summary.
fn native_stop(session: &Session, pid: Option<u32>, how: Stop) -> String {
    let text = session::stop_command(session, pid, how);
    match how {
        Stop::Term => format!("the recording ended at its --duration: {text}"),
        Stop::Kill => text,
    }
}

/// Records `options.command`: everything that can be checked is checked
/// before the command starts (a failure then leaves nothing behind and the
/// command never ran); the command runs, supervised, in a watched cgroup;
/// what the kernel counted becomes the profile.
pub(crate) async fn record(options: RecordOptions) -> Result<Recording, RecordError> {
    record_observed(options, None).await
}

/// Looks at what the kernel counted so far, a few times a second while the
/// command runs.
pub(crate) type Observer<'a> = &'a mut dyn FnMut(&Observation);

/// [`record`], with `observer` given the counts so far on every tick while
/// the command runs (`enforce --complain` and `check -- CMD` say from them
/// what the profile refuses, as it happens).
pub(crate) async fn record_observed(
    options: RecordOptions,
    observer: Option<Observer<'_>>,
) -> Result<Recording, RecordError> {
    let plan = Plan::check(&options)?;
    let ran = match plan.target {
        Planned::Attached(attached) => {
            attach::run(&options, plan.arch, *attached, observer).await?
        }
        Planned::Command(command) => run(&options, plan.arch, command, observer).await?,
    };
    conclude(
        &options,
        plan.arch,
        plan.outputs,
        (plan.baseline.as_ref(), plan.native_default.as_ref()),
        ran,
    )
}

/// What a run gave: the command's end and what the kernel counted.
struct Ran {
    exit_code: i32,
    duration: Duration,
    observation: Observation,
    /// What outlived the command, waited for.
    outlived: Option<Outlived>,
    warnings: Vec<String>,
    /// The native program's executable (for the runtimes `implied` knows).
    executable: Option<PathBuf>,
    /// For a container: its engine and OCI runtime.
    runtime: Option<(Engine, String)>,
    /// For a container: the run, whose image holds its programs.
    container: Option<EngineRun>,
    /// The run's guardian, its cgroup duty done (see [`Recording::guardian`]).
    guardian: Guardian,
    /// With `--attach`: what was recorded, from when.
    attached: Option<stats::Attachment>,
    /// With `--attach` of a container: its root and programs, for the
    /// coverage.
    attached_root: Option<attach::AttachedRoot>,
}

/// Runs the command in a fresh watched cgroup, supervised until it ends,
/// and cleans up after it.
async fn run(
    options: &RecordOptions,
    arch: Arch,
    planned: Command,
    observer: Option<Observer<'_>>,
) -> Result<Ran, RecordError> {
    let mut session = Session::open(Kind::Record)?;
    let (target, boundary) = match planned {
        Command::Native(path) => (Target::Native(path), Boundary::Everything),
        Command::Container(engine_run) => {
            let recording =
                ContainerRecording::prepare(engine_run, session.cgroup(), options.keep_running)?;
            session.guard(&recording.guardian_duty())?;
            (
                Target::Container(Box::new(recording)),
                Boundary::SeccompFilter,
            )
        }
    };
    // The argument values are captured where something uses them: the
    // profile's rules, a container's answer to clone3, `--stats`. A native
    // `--args names` recording without stats leaves the capture out of the
    // kernel side (cheaper calls, 66 KiB less of kernel maps).
    let capture_arguments = options.granularity != Granularity::Names
        || boundary == Boundary::SeccompFilter
        || options.stats.is_some();
    let mut tracer = Tracer::start(
        session.cgroup().tree(),
        options.hook,
        boundary,
        arch,
        capture_arguments,
        options.coverage || options.include_reachable,
    )?;
    // A signal that came while setting up stops it before the command runs.
    session.check_interrupted()?;
    for stale in &session.stale {
        (options.say)(Notice::Note(stale.to_string()));
    }

    let started = Instant::now();
    let mut child = spawn(options, &target, &session)?;
    let live = (options.live)();
    let deadline = options.duration.map(|d| tokio::time::Instant::now() + d);
    let tick = match boundary {
        Boundary::SeccompFilter => Some(RUNTIME_PHASE_POLL),
        Boundary::Everything => (live.is_shown() || observer.is_some()).then_some(REFRESH),
    };
    let mut warnings = Vec::new();
    let mut watching = Watching {
        tracer: &mut tracer,
        live: live.as_ref(),
        boundary,
        warnings: &mut warnings,
        container: match &target {
            Target::Container(recording) => Some((recording.as_ref(), options.keep_running)),
            Target::Native(_) => None,
        },
        left_running: false,
        last_refresh: None,
        say: options.say,
        observer: observer.map(|o| o as &mut dyn FnMut(&Observation)),
    };
    // A native command is followed until its whole tree has ended (unless
    // `--until command`); a container's run ends with the container.
    let until = match &target {
        Target::Native(_) => options.until.unwrap_or_default(),
        Target::Container(_) => Until::Command,
    };
    let mut notes = Vec::new();
    let mut exit_code = session
        .supervise(&mut child, deadline, tick, until, &mut watching, &mut notes)
        .await?;
    if let Target::Container(recording) = &target
        && recording.detached()
        && exit_code == 0
    {
        // `run -d` printed the container's id and returned: the recording
        // goes on until the container ends.
        let stdout = read_all(child.stdout.take()).await;
        (options.say)(Notice::Stdout(stdout.clone()));
        if let Some(id) = container::container_id(&stdout) {
            let mut wait = recording
                .wait_command(&id)
                .spawn()
                .map_err(SessionError::Wait)?;
            let code = session
                .supervise(
                    &mut wait,
                    deadline,
                    tick,
                    Until::Command,
                    &mut watching,
                    &mut notes,
                )
                .await?;
            let printed = read_all(wait.stdout.take()).await;
            exit_code = printed.trim().parse().unwrap_or(code);
        }
    }
    if watching.left_running {
        // The container goes on: the recording, not the command, ended.
        exit_code = 0;
    }
    let duration = started.elapsed();
    live.finish();
    warnings.append(&mut notes);
    let outlived = session.outlived().cloned();
    let (said, guardian) = close(session, &target, options.keep_running);
    warnings.extend(said);
    let observation = tracer.snapshot()?;
    tracer.stop()?;
    let (executable, runtime, container) = match target {
        Target::Native(path) => (Some(path), None, None),
        Target::Container(recording) => (
            None,
            Some((
                recording.engine_run.run.engine,
                recording
                    .runtime
                    .clone()
                    .unwrap_or_else(|| "unknown".to_owned()),
            )),
            Some(recording.engine_run.clone()),
        ),
    };
    Ok(Ran {
        exit_code,
        duration,
        observation,
        outlived,
        warnings,
        executable,
        runtime,
        container,
        guardian,
        attached: None,
        attached_root: None,
    })
}

/// Starts the command: a native program moves itself into the cgroup right
/// before its `execve`; an engine's CLI stays outside (only the container,
/// below the cgroup, is recorded).
fn spawn(
    options: &RecordOptions,
    target: &Target,
    session: &Session,
) -> Result<tokio::process::Child, RecordError> {
    let spawned = match target {
        Target::Native(path) => {
            let procs = session.cgroup().open_procs()?;
            let args = &options.command[1..];
            process::command_in_cgroup(path, args, &procs, options.user.as_ref()).spawn()
        }
        Target::Container(recording) => {
            if !options.quiet {
                (options.say)(Notice::Note(recording.notice.clone()));
            }
            for warning in &recording.warnings {
                (options.say)(Notice::Warning(warning.clone()));
            }
            let mut cli = tokio::process::Command::new(recording.cli());
            cli.args(&recording.argv[1..]).kill_on_drop(true);
            if recording.detached() {
                cli.stdout(std::process::Stdio::piped());
            }
            cli.spawn()
        }
    };
    spawned.map_err(|source| {
        CommandError::Spawn {
            program: options.command[0].to_string_lossy().into_owned(),
            source,
        }
        .into()
    })
}

/// Ends the run: a container still running is stopped (or kept, with
/// --keep-running), what the command left running is killed, the cgroup
/// removed. Returns what the user must be told, and the run's guardian,
/// which still removes the recorded containers should the tool be killed
/// before it told (a kept one it names instead).
fn close(session: Session, target: &Target, keep_running: bool) -> (Vec<String>, Guardian) {
    let mut warnings = Vec::new();
    let (removal, guardian) = match target {
        Target::Container(recording) => {
            // A container still running now outlived its CLI (`wait`
            // interrupted, --sig-proxy=false, the daemon gone).
            let still_running = !session.cgroup().processes().is_empty();
            let (said, kept) = recording.settle(still_running, keep_running);
            warnings.extend(said);
            match kept {
                Some(announce) => {
                    let (removal, mut guardian) = session.close_keeping();
                    // Kept on request: named, not removed, should the tool
                    // be killed now; both in one write, so that the guardian
                    // never does one without the other. (A guardian whose
                    // pipe is gone is gone: nothing to tell it.)
                    let _ =
                        guardian.watch_all(&[announce, Duty::withdraw(&recording.guardian_duty())]);
                    (removal.map(|()| Vec::new()), guardian)
                }
                None => session.close_after_engine(Duration::from_secs(5)),
            }
        }
        // Whatever the command left running (with `--until command`; with
        // `--until tree` nothing is left by now) is killed, so that the
        // cgroup can go and the recording has an end; what it did until
        // then is counted.
        Target::Native(_) => session.close(),
    };
    warnings.extend(session::said_of_close(removal));
    (warnings, guardian)
}

/// Everything a pipe of the child still holds.
async fn read_all<R: tokio::io::AsyncRead + Unpin>(pipe: Option<R>) -> String {
    use tokio::io::AsyncReadExt;
    let mut text = String::new();
    if let Some(mut pipe) = pipe {
        let _ = pipe.read_to_string(&mut text).await;
    }
    text
}
