//! `syscall-profile enforce`: runs a native program or a container under a
//! profile, and explains every syscall the profile denied.
//!
//! - A native program gets the profile compiled with libseccomp (runc's
//!   semantics, see [`filter`]) and installed in the child right before
//!   `execve`, with no_new_privs; if the filter cannot be built or
//!   installed, the program does not run.
//! - A container gets the profile through its engine
//!   (`--security-opt seccomp=FILE`, replacing the user's own; for `ctr run`,
//!   `--seccomp --seccomp-profile FILE` with the profile written as the
//!   runtime spec's `linux.seccomp`, the format ctr reads).
//! - Either way the program runs in a cgroup watched by the eBPF side, which
//!   reports each syscall the filter denied ([`denials`]) as it happens
//!   (and a refused call repeated in a retry loop, [`live`]) and at the end.
//! - `--complain` runs the program without blocking anything: it is
//!   recorded, and the report lists what the profile would have denied,
//!   with a profile that allows it (`--suggest FILE`).
//! - Where a syscall's privilege is in an argument (an ioctl's request, a
//!   socket's family), the values are what is denied, reported and
//!   suggested ([`arguments`]): the profile's argument conditions are
//!   evaluated in complain mode too, and a suggestion allows the refused
//!   values rather than the whole syscall.

pub mod arguments;
pub mod denials;
pub mod filter;
pub mod listener;
pub mod live;

use crate::choice::choice;
use std::{
    collections::{BTreeMap, BTreeSet},
    ffi::OsString,
    fs::File,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use self::{
    arguments::Judged,
    denials::{DenialWatch, DeniedSyscall},
    filter::{CompiledFilter, FilterError},
    listener::{ChildEnds, Listener},
    live::{LiveEvent, RetryLoop},
};
use crate::{
    arguments::CapturedCalls,
    baseline::{
        Baseline, BaselineError,
        eval::{Access, DockerContext, EffectivePolicy, resolved},
    },
    engine::{ContainerRun, Engine, EngineError, EngineRun, runtime_base},
    exit,
    notice::{self, Notice},
    output::{Output, OutputError},
    profile::{Action, Arch, EPERM, Profile, ProfileError, SyscallRule, SyscallSet},
    recording::{self, RecordError, RecordOptions, stats::SyscallCount},
    session::{
        self, Kind, Outlived, Session, SessionError, Stop, Supervised, Until,
        ebpf::TracerError,
        events::{Escape, Watch},
        hook::Hook,
        process::{self, CommandError, RunAs},
        redact,
    },
};

#[derive(Debug, thiserror::Error)]
pub enum EnforceError {
    #[error(
        "no command to run: give it after `--`, e.g. `syscall-profile enforce --profile app.json -- ./app`"
    )]
    NoCommand,
    #[error(transparent)]
    Profile(#[from] ProfileError),
    #[error("cannot use the profile: {0}; the command was not started")]
    Filter(#[from] FilterError),
    #[error("cannot resolve the profile's path {path}: {source}")]
    ProfilePath {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Command(#[from] CommandError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Output(#[from] OutputError),
    #[error(transparent)]
    Session(#[from] SessionError),
    #[error(transparent)]
    Cgroup(#[from] session::CgroupError),
    #[error(transparent)]
    Tracer(#[from] TracerError),
    #[error(transparent)]
    Record(#[from] RecordError),
    #[error(transparent)]
    Baseline(#[from] BaselineError),
    #[error("this host's architecture ({0}) is not supported")]
    UnsupportedArch(&'static str),
    #[error("cannot watch denials with a seccomp listener: {0}; give `--watch kernel`")]
    NoListener(String),
    #[error("cannot start the seccomp listener: {0}")]
    Listener(String),
    #[error("ctr reads the runtime spec's seccomp format, which cannot hold this profile: {0}")]
    Oci(#[from] crate::export::ExportError),
    #[error("cannot write the profile for ctr to a temporary file: {0}")]
    TempFile(std::io::Error),
    #[error(
        "the profile {profile} refuses execve, so {program} could never start under it \
         (nothing was run): allow execve in the profile{suggested}"
    )]
    ExecveRefused {
        profile: PathBuf,
        program: String,
        /// Where the suggestion went, said as ` (a profile allowing it is in FILE)`.
        suggested: String,
    },
    #[error(
        "cannot start {program} under the profile: {source} (the kernel refused the seccomp \
         filter, or the command could not be executed under it); it did not run"
    )]
    Start {
        program: String,
        source: std::io::Error,
        /// What the filter denied on the way (shown before the error).
        denials: Vec<DeniedSyscall>,
    },
}

impl EnforceError {
    pub fn exit_code(&self) -> i32 {
        match self {
            EnforceError::NoCommand | EnforceError::NoListener(_) => exit::USAGE,
            EnforceError::Command(e) => e.exit_code(),
            EnforceError::Record(e) => e.exit_code(),
            EnforceError::Session(e) => e.exit_code(exit::TOOL_FAILED),
            EnforceError::Start { .. } | EnforceError::ExecveRefused { .. } => exit::NOT_EXECUTABLE,
            _ => exit::TOOL_FAILED,
        }
    }
}

#[derive(Debug, Clone)]
pub struct EnforceOptions {
    pub profile: PathBuf,
    pub command: Vec<OsString>,
    pub quiet: bool,
    /// Run without blocking; report what would have been denied.
    pub complain: bool,
    /// Write a profile that allows what was (or would have been) denied.
    pub suggest: Option<PathBuf>,
    /// Run a native command as this user.
    pub user: Option<RunAs>,
    /// How denials are found.
    pub watch: DenialWatching,
    /// The kind of hook of the eBPF watch (tests choose; users leave it
    /// to `Auto`).
    pub hook: Hook,
    /// When a native run ends (`--until`; `None`: [`Until::Tree`]).
    /// Refused for a container, whose end its engine defines.
    pub until: Option<Until>,
    /// End the run after this long: SIGTERM, then SIGKILL after the
    /// grace period.
    pub duration: Option<Duration>,
    /// Where what enforcing tells the user goes (how denials are watched,
    /// that the run waits for what the command left running): the command
    /// line renders it; nowhere by default.
    pub say: notice::Sink,
}

choice! {
    /// How `enforce` finds what the filter denies.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
    pub enum DenialWatching {
        #[default]
        Auto => (
            "auto",
            "A native program's refusals go to a seccomp listener where the profile allows it \
             (only ERRNO refusals; read and write allowed) and does not allow seccomp (the \
             program's own listener would get EBUSY), else the kernel watch; a podman or ctr \
             container's to a listener the runtime (runc) hands over through `listenerPath` \
             where the profile allows it, else the kernel watch; a Docker container's to the \
             kernel watch (the Docker engine drops `listenerPath`)"
        ),
        Kernel => ("kernel", "The eBPF watch on every syscall of the enforced cgroup"),
        Listener => ("listener", "The seccomp listener; refused where it cannot be used"),
    }
}

/// What `enforce` did.
#[derive(Debug)]
pub struct Enforcement {
    /// The command's exit status, as a shell reports it.
    pub exit_code: i32,
    /// What the filter denied (or, with `--complain`, would have denied).
    pub denials: Vec<DeniedSyscall>,
    /// With `--complain`: syscalls the profile allows only under argument
    /// conditions that complain mode could not check, each with the reason
    /// where there is one (`ioctl (a condition on argument 0, …)`).
    pub conditional: Vec<String>,
    /// With `--complain`: runtime base-set syscalls the profile would deny
    /// (they were merged into the recording, not observed).
    pub base_denied: Vec<String>,
    /// Where the suggestion was written.
    pub suggestion: Option<PathBuf>,
    /// Things the user should know.
    pub warnings: Vec<String>,
    pub complain: bool,
    /// Processes that left the watched cgroup: what the filter denied
    /// them after that was not seen.
    pub escapes: Vec<Escape>,
    /// For a container: the default of its engine (from the engine's
    /// version), whose capabilities the profile was evaluated with.
    pub engine_default: Option<String>,
    /// With `--complain`: the recording's guardian, which removes a
    /// recorded container left with the recording profile should the tool
    /// be killed before `enforce` is done; released with this.
    pub guardian: Option<crate::session::guardian::Guardian>,
    /// The processes that outlived the command, which the run waited for.
    pub outlived: Option<Outlived>,
    /// The refused calls the program kept making (see [`live`]), each as
    /// last said while it ran.
    pub retry_loops: Vec<RetryLoop>,
    /// The refusals went to a listener of ours while the profile let the
    /// program call seccomp: had it asked for a listener of its own, it
    /// got EBUSY (see [`listener::program_may_listen`]).
    pub own_listener_refused: bool,
}

/// Hands what the watches counted so far to [`live::LiveDenials`] on each
/// tick, and what it makes of it to the caller's `say`.
struct LiveWatch<'a> {
    watch: &'a mut DenialWatch,
    listener: Option<&'a Listener>,
    said: live::LiveDenials,
    say: &'a mut dyn FnMut(LiveEvent),
    /// What the session says while the command runs (that it waits for
    /// what the command left running).
    say_text: notice::Sink,
}

impl Supervised for LiveWatch<'_> {
    fn say(&mut self, text: &str) {
        (self.say_text)(Notice::Note(text.to_owned()));
    }

    fn stop(&mut self, session: &Session, pid: Option<u32>, how: Stop) -> String {
        let text = session::stop_command(session, pid, how);
        match how {
            Stop::Term => format!("the run ended at its --duration: {text}"),
            Stop::Kill => text,
        }
    }

    fn tick(&mut self) {
        let mut denials = self.watch.denials().unwrap_or_default();
        denials.extend(self.listener.map(Listener::denials).unwrap_or_default());
        for event in self.said.update(&denials, Instant::now()) {
            (self.say)(event);
        }
    }
}

/// What a profile would refuse of a recording's counts so far, handed to
/// `say` as it is seen (each syscall and argument value once, no retry
/// loops: nothing was refused): `enforce --complain` and `check -- CMD`.
/// The calls are judged as the final report judges them.
pub struct WouldRefuse<'a> {
    policy: EffectivePolicy,
    said: live::LiveDenials,
    say: &'a mut dyn FnMut(LiveEvent),
}

impl<'a> WouldRefuse<'a> {
    pub fn new(policy: EffectivePolicy, say: &'a mut dyn FnMut(LiveEvent)) -> WouldRefuse<'a> {
        WouldRefuse {
            policy,
            said: live::LiveDenials::new_only(),
            say,
        }
    }

    /// Judges the counts so far; says what is new.
    pub fn observe(&mut self, observation: &recording::tracer::Observation) {
        let (mut counts, _) = recording::count_entries(&observation.calls);
        counts.extend(recording::count_entries(&observation.runtime_calls).0);
        let observed = observed_values(observation);
        // A warning of values the kernel found no room for is the final
        // report's to give.
        let judged = judge_run(&self.policy, &counts, &observed, &mut Vec::new());
        for event in self.said.update(&judged.denials, Instant::now()) {
            (self.say)(event);
        }
    }
}

/// Runs `options.command` under `options.profile`: the profile is read
/// (and for a native program compiled) before anything runs, so a malformed
/// one stops here; the command runs in a watched cgroup, and every denial
/// is collected.
///
/// While it runs, `say` gets each syscall (and argument value) refused for
/// the first time, and each retry loop ([`live`]), as the watches see them.
pub async fn enforce(
    options: EnforceOptions,
    say: &mut dyn FnMut(LiveEvent),
) -> Result<Enforcement, EnforceError> {
    if options.command.is_empty() {
        return Err(EnforceError::NoCommand);
    }
    let arch = Arch::host().ok_or(EnforceError::UnsupportedArch(std::env::consts::ARCH))?;
    let parsed = Profile::load(&options.profile)?;
    // What the profile says that does not do what it seems to: said with
    // the run's other warnings, before the command starts.
    let profile_warnings: Vec<String> = parsed
        .warnings
        .iter()
        .map(|w| format!("{}: {w}", options.profile.display()))
        .collect();
    let profile = parsed.profile;
    let container = ContainerRun::parse(&options.command);
    if let Some(run) = &container {
        if options.until.is_some() {
            return Err(EnforceError::Record(RecordError::UntilContainer));
        }
        run.check_supervisable(options.user.is_some())?;
    }
    if options.complain {
        return complain(options, &profile, arch, profile_warnings, say).await;
    }
    let mut suggest = options
        .suggest
        .as_deref()
        .map(|p| Output::prepare(Some(p)))
        .transpose()?;
    let (target, plan_warnings, engine_default) = match container {
        None => {
            let (target, warnings) = plan_native(&options, &profile, arch, &mut suggest)?;
            (target, warnings, None)
        }
        Some(run) => {
            let run = EngineRun::prepare(run)?;
            let default = Baseline::for_engine(run.run.engine, run.version().as_deref());
            let (target, warnings) = plan_container(&options, &profile, run, &default)?;
            (target, warnings, Some(default))
        }
    };

    let mut warnings = profile_warnings;
    warnings.extend(plan_warnings);
    let context = run_context(&options, arch, engine_default.as_ref())?;
    let policy = EffectivePolicy::evaluate(&profile, &context);
    let watched = match run(&options, arch, &target, warnings, say).await {
        Ok(watched) => watched,
        // What the filter denied on the way to the failed start, explained.
        Err(EnforceError::Start {
            program,
            source,
            mut denials,
        }) => {
            denials::explain(&mut denials, &policy);
            return Err(EnforceError::Start {
                program,
                source,
                denials,
            });
        }
        Err(e) => return Err(e),
    };
    let Watched {
        exit_code,
        mut denials,
        escapes,
        warnings,
        outlived,
        retry_loops,
    } = watched;
    denials::explain(&mut denials, &policy);
    let listened = match &target {
        Target::Native { answers, .. } | Target::Container { answers, .. } => answers.is_some(),
    };
    let own_listener_refused = listened && listener::program_may_listen(&policy).is_some();
    let mut additions = Additions::of(&denials);
    if let Target::Container { runtime_needs, .. } = &target
        && exit_code != 0
    {
        for name in runtime_needs {
            additions.names.insert(name);
        }
    }
    let suggestion = match suggest {
        Some(output) if !additions.is_empty() => Some(write_suggestion(
            output, &profile, arch, &additions, &options,
        )?),
        _ => None,
    };
    Ok(Enforcement {
        exit_code,
        denials,
        conditional: Vec::new(),
        base_denied: Vec::new(),
        suggestion,
        warnings,
        complain: false,
        escapes,
        engine_default: engine_default.map(|b| b.describe()),
        guardian: None,
        outlived,
        retry_loops,
        own_listener_refused,
    })
}

/// What an enforced run showed.
struct Watched {
    exit_code: i32,
    outlived: Option<Outlived>,
    denials: Vec<DeniedSyscall>,
    escapes: Vec<Escape>,
    warnings: Vec<String>,
    retry_loops: Vec<RetryLoop>,
}

/// Runs the planned command in a fresh watched cgroup under the profile,
/// supervised until it ends; collects the denials, and cleans up.
async fn run(
    options: &EnforceOptions,
    arch: Arch,
    target: &Target,
    mut warnings: Vec<String>,
    say: &mut dyn FnMut(LiveEvent),
) -> Result<Watched, EnforceError> {
    let mut session = Session::open(Kind::Enforce)?;
    for stale in &session.stale {
        (options.say)(Notice::Note(stale.to_string()));
    }
    let answers = match target {
        Target::Native {
            answers: Some(policy),
            ..
        }
        | Target::Container {
            answers: Some(policy),
            ..
        } => Some(policy),
        _ => None,
    };
    let mut watch = DenialWatch::attach(session.cgroup(), arch, answers.is_none(), options.hook)?;
    let (mut listener, agent) = match (answers, target) {
        (None, _) => (None, None),
        (Some(policy), Target::Native { .. }) => (
            Some(
                Listener::start(policy.clone(), arch)
                    .map_err(|e| EnforceError::Listener(e.to_string()))?,
            ),
            None,
        ),
        (Some(policy), Target::Container { .. }) => {
            let (listener, agent) = Listener::start_socket(policy.clone(), arch)
                .map_err(|e| EnforceError::Listener(format!("its socket: {e}")))?;
            (Some(listener), Some(agent))
        }
    };
    session.check_interrupted()?;
    let mut notifying_file = None;
    let spawned = spawn(
        options,
        target,
        &session,
        listener.as_mut(),
        agent.as_ref(),
        &mut notifying_file,
    )?;
    for warning in warnings.drain(..) {
        (options.say)(Notice::Warning(warning));
    }
    let mut child = match spawned {
        Ok(child) => child,
        Err(source) => {
            // The filter was installed and the exec failed under it, or the
            // filter could not be installed: either way the command did not run.
            let mut denials = watch.denials().unwrap_or_default();
            if let Some(listener) = listener {
                denials.extend(listener.finish().unwrap_or_default());
            }
            let program = options.command[0].to_string_lossy().into_owned();
            return Err(EnforceError::Start {
                program,
                source,
                denials,
            });
        }
    };

    let mut live = LiveWatch {
        watch: &mut watch,
        listener: listener.as_ref(),
        said: live::LiveDenials::default(),
        say,
        say_text: options.say,
    };
    // A native command is followed until its whole tree has ended (unless
    // `--until command`); a container's run ends with the container.
    let until = match target {
        Target::Native { .. } => options.until.unwrap_or_default(),
        Target::Container { .. } => Until::Command,
    };
    let deadline = options.duration.map(|d| tokio::time::Instant::now() + d);
    let mut notes = Vec::new();
    let exit_code = session
        .supervise(
            &mut child,
            deadline,
            Some(Duration::from_millis(250)),
            until,
            &mut live,
            &mut notes,
        )
        .await?;
    let outlived = session.outlived().cloned();
    let retry_loops = live.said.loops();
    let mut denials = watch.denials()?;
    let events = watch.events()?;
    let words: Vec<String> = options
        .command
        .iter()
        .map(|w| w.to_string_lossy().into_owned())
        .collect();
    warnings.extend(events.warnings(Watch::Enforcing, &words));
    drop(watch);
    warnings.append(&mut notes);
    let (removal, guardian) = match target {
        Target::Container { .. } => session.close_after_engine(Duration::from_secs(5)),
        Target::Native { .. } => session.close(),
    };
    // The container ran under the profile being enforced, not the
    // recording's: with its cgroup gone there is nothing left to guard.
    guardian.release();
    warnings.extend(session::said_of_close(removal));
    // Served until the last process of the run is gone, so that none
    // waits on a refusal without an answer.
    drop(notifying_file);
    if let Some(listener) = listener {
        if agent.is_some() && !listener.handed_over() && exit_code != 0 {
            warnings.push(
                "the container runtime never handed the seccomp listener over (the container \
                 fails to start without it): see the engine's error above; \
                 `--watch kernel` watches without it"
                    .to_owned(),
            );
        }
        let mut answered = listener.finish().map_err(EnforceError::Listener)?;
        // Named by the program the kernel saw executed, as the kernel
        // watch names them.
        for caller in answered.iter_mut().filter_map(|d| d.first.as_mut()) {
            if let Some(exe) = events.executable(caller.pid) {
                caller.exe = Some(exe.to_owned());
            }
        }
        denials.append(&mut answered);
        denials.sort_by(|a, b| {
            (&a.name, &a.arch, a.killed.is_some()).cmp(&(&b.name, &b.arch, b.killed.is_some()))
        });
    }
    Ok(Watched {
        exit_code,
        denials,
        escapes: events.escapes,
        warnings,
        outlived,
        retry_loops,
    })
}

/// What `enforce` runs, checked.
enum Target {
    /// A native program and its compiled filter; with a policy, the
    /// filter's refusals go to a [`listener::Listener`] that answers them
    /// by it.
    Native {
        program: PathBuf,
        filter: CompiledFilter,
        answers: Option<EffectivePolicy>,
    },
    /// A container run, and what of its runtime's base set the profile
    /// refuses.
    Container {
        run: EngineRun,
        runtime_needs: Vec<String>,
        /// For `ctr`: the profile in the runtime spec's format, in a file
        /// with no name (read through `/proc/PID/fd/N`).
        oci_profile: Option<File>,
        /// With a policy, the filter's refusals go to a listener the
        /// runtime hands over, which answers them by it; the profile
        /// (includes and excludes decided) and the architectures whose
        /// syscalls it names are made notifying at the start.
        answers: Option<EffectivePolicy>,
        notifying: Option<Box<(Profile, Vec<Arch>)>>,
    },
}

/// The one line an explicit `--watch listener` gets where the program
/// may ask for a listener of its own (`why`:
/// [`listener::program_may_listen`]).
fn own_listener_warning(why: &str) -> String {
    format!(
        "--watch listener can change what the program gets: {why}; --watch kernel (or auto) \
         does not"
    )
}

/// A native program: resolved, its filter compiled, execve checked.
fn plan_native(
    options: &EnforceOptions,
    profile: &Profile,
    arch: Arch,
    suggest: &mut Option<Output>,
) -> Result<(Target, Vec<String>), EnforceError> {
    let program = process::resolve(&options.command[0])?;
    let policy = EffectivePolicy::evaluate(profile, &native_context(options, arch));
    let listen = match options.watch {
        DenialWatching::Kernel => false,
        DenialWatching::Listener => {
            if let Some(why) = listener::unusable_because(profile, &policy) {
                return Err(EnforceError::NoListener(why));
            }
            true
        }
        // A listener of ours would make the program's own fail (EBUSY).
        DenialWatching::Auto => {
            listener::unusable_because(profile, &policy).is_none()
                && listener::program_may_listen(&policy).is_none()
        }
    };
    let mut warnings = Vec::new();
    if options.watch == DenialWatching::Listener
        && let Some(why) = listener::program_may_listen(&policy)
    {
        warnings.push(own_listener_warning(&why));
    }
    let (filter, answers) = if listen {
        (filter::compile_notifying(profile, arch)?, Some(policy))
    } else {
        (filter::compile(profile, arch)?, None)
    };
    refuse_if_execve_denied(profile, arch, options, suggest)?;
    if !filter.skipped_names.is_empty() {
        warnings.push(format!(
            "the libseccomp on this host does not know {} syscall(s) of the profile, whose \
             rules were skipped (as runc does): {}",
            filter.skipped_names.len(),
            filter.skipped_names.join(" ")
        ));
    }
    Ok((
        Target::Native {
            program,
            filter,
            answers,
        },
        warnings,
    ))
}

/// A container run whose engine answered: the runtime's needs checked.
fn plan_container(
    options: &EnforceOptions,
    profile: &Profile,
    run: EngineRun,
    engine_default: &Baseline,
) -> Result<(Target, Vec<String>), EnforceError> {
    let mut warnings = Vec::new();
    let runtime_needs = runtime_denials(profile, &run, engine_default)?;
    if !runtime_needs.is_empty() {
        warnings.push(format!(
            "the profile refuses syscalls the container runtime makes after installing the \
             filter, so the container will likely not start: {}",
            runtime_needs.join(" ")
        ));
    }
    if let Some(errno) = profile.default_errno_ret.filter(|e| *e != EPERM)
        && run.drops_default_errno()
    {
        warnings.push(format!(
            "the Docker engine {} ignores the profile's defaultErrnoRet ({errno}): calls the \
             profile does not list fail with EPERM there (engines from 23.0 honour it; give \
             each errno its own rule to have it on this one)",
            run.version
        ));
    }
    for option in run.run.seccomp_options() {
        warnings.push(format!(
            "your `{}` is replaced by the profile {}",
            ContainerRun::describe_option(option),
            options.profile.display()
        ));
    }
    let context = container_context(&run.run, engine_default)?;
    let decided = resolved(profile, &context);
    let policy = EffectivePolicy::evaluate(profile, &context);
    let unusable = || {
        listener::container_unusable_because(
            &decided,
            &policy,
            run.run.engine,
            run.runtime().as_deref(),
        )
    };
    let listen = match options.watch {
        DenialWatching::Kernel => false,
        DenialWatching::Listener => {
            if let Some(why) = unusable() {
                return Err(EnforceError::NoListener(why));
            }
            true
        }
        DenialWatching::Auto if run.run.engine == Engine::Docker => false,
        DenialWatching::Auto => {
            match unusable().or_else(|| listener::program_may_listen(&policy)) {
                None => true,
                Some(why) => {
                    if !options.quiet {
                        (options.say)(Notice::Note(format!(
                            "watching the container's denials with eBPF on every syscall: no \
                             seccomp listener, as {why}"
                        )));
                    }
                    false
                }
            }
        }
    };
    if options.watch == DenialWatching::Listener
        && let Some(why) = listener::program_may_listen(&policy)
    {
        warnings.push(own_listener_warning(&why));
    }
    if listen {
        let arch = Arch::host().ok_or(EnforceError::UnsupportedArch(std::env::consts::ARCH))?;
        let arches: Vec<Arch> = std::iter::once(arch)
            .chain(arch.sub_architectures().iter().copied())
            .filter(|a| crate::profile::table::has_table(*a))
            .collect();
        // The file is written at the start, once the socket is made.
        return Ok((
            Target::Container {
                run,
                runtime_needs,
                oci_profile: None,
                answers: Some(policy),
                notifying: Some(Box::new((decided, arches))),
            },
            warnings,
        ));
    }
    // ctr passes the file to the runtime as it is: Docker's includes and
    // excludes are decided first, for this container, as Docker does.
    let oci_profile = match run.run.engine {
        Engine::Containerd => Some(oci_file(&decided)?),
        Engine::Docker | Engine::Podman => None,
    };
    Ok((
        Target::Container {
            run,
            runtime_needs,
            oci_profile,
            answers: None,
            notifying: None,
        },
        warnings,
    ))
}

/// The profile as the runtime spec's `linux.seccomp` (what `ctr run
/// --seccomp-profile` reads), in a temporary file with no name.
fn oci_file(profile: &Profile) -> Result<File, EnforceError> {
    let text = crate::export::oci::to_text(&crate::export::oci::to_oci(profile)?);
    text_file(&text)
}

/// `text` in a temporary file with no name, read from its start.
fn text_file(text: &str) -> Result<File, EnforceError> {
    use std::io::{Seek, Write};
    let mut file = tempfile::tempfile().map_err(EnforceError::TempFile)?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.rewind())
        .map_err(EnforceError::TempFile)?;
    Ok(file)
}

/// Starts the command in the session's cgroup under the profile: a native
/// program installs the filter as its last step before `execve`; a
/// container gets it from its engine. The spawn's own failure is returned
/// as is (the command did not run).
fn spawn(
    options: &EnforceOptions,
    target: &Target,
    session: &Session,
    listener: Option<&mut Listener>,
    agent: Option<&listener::Agent>,
    keep: &mut Option<File>,
) -> Result<std::io::Result<tokio::process::Child>, EnforceError> {
    Ok(match target {
        Target::Native {
            program, filter, ..
        } => {
            let procs = session.cgroup().open_procs()?;
            let ends = listener.as_ref().map(|l| l.ends);
            let spawned = spawn_native(
                program,
                &options.command[1..],
                &procs,
                filter.clone(),
                ends,
                options.user.as_ref(),
            );
            if let Some(listener) = listener {
                listener.spawned();
            }
            spawned
        }
        Target::Container {
            run,
            oci_profile,
            notifying,
            ..
        } => {
            // The notifying profile, with this run's socket and token: for
            // ctr in the runtime spec's format, for podman in Docker's.
            let notifying_file = match (notifying, agent) {
                (Some(notifying), Some(agent)) => {
                    let (profile, arches) = &**notifying;
                    let profile = listener::notifying_profile(profile, arches, agent);
                    Some(match run.run.engine {
                        Engine::Containerd => oci_file(&profile)?,
                        Engine::Docker | Engine::Podman => text_file(&profile.to_json())?,
                    })
                }
                _ => None,
            };
            // Kept open for the whole run: the engine reads it through /proc.
            *keep = notifying_file;
            let file = match keep.as_ref().or(oci_profile.as_ref()) {
                Some(file) => {
                    use std::os::unix::io::AsRawFd;
                    format!("/proc/{}/fd/{}", std::process::id(), file.as_raw_fd())
                }
                None => std::path::absolute(&options.profile)
                    .map_err(|source| EnforceError::ProfilePath {
                        path: options.profile.clone(),
                        source,
                    })?
                    .display()
                    .to_string(),
            };
            let (cgroup_option, cgroup_value) = run.run.cgroup_args(session.cgroup().relative());
            let mut extra: Vec<OsString> = vec![cgroup_option.into(), cgroup_value.into()];
            extra.extend(run.run.seccomp_args(&file));
            let argv = run.run.rewritten(&extra);
            if !options.quiet {
                (options.say)(Notice::Note(format!(
                    "running the container under {}",
                    options.profile.display()
                )));
            }
            tokio::process::Command::new(&run.cli)
                .args(&argv[1..])
                .kill_on_drop(true)
                .spawn()
        }
    })
}

/// A native command starts with `execve`, made under the filter: a profile
/// that refuses it could never run anything, and the child would fail in
/// the tool's own code before it. Refused before anything runs, with the
/// exact suggestion (allow execve).
fn refuse_if_execve_denied(
    profile: &Profile,
    arch: Arch,
    options: &EnforceOptions,
    suggest: &mut Option<Output>,
) -> Result<(), EnforceError> {
    let policy = EffectivePolicy::evaluate(profile, &native_context(options, arch));
    if !matches!(policy.access("execve"), Access::Denied(_)) {
        return Ok(());
    }
    let additions = Additions {
        names: ["execve"].into_iter().collect(),
        rules: Vec::new(),
    };
    let suggested = match suggest.take() {
        Some(output) => {
            let path = write_suggestion(output, profile, arch, &additions, options)?;
            format!(" (a profile allowing it is in {})", path.display())
        }
        None => String::new(),
    };
    Err(EnforceError::ExecveRefused {
        profile: options.profile.clone(),
        program: options.command[0].to_string_lossy().into_owned(),
        suggested,
    })
}

/// The capabilities a native command runs with: the tool's own, or none
/// when it runs as another user.
fn native_context(options: &EnforceOptions, arch: Arch) -> DockerContext {
    let mut context = filter::native_context(arch);
    if options.user.as_ref().is_some_and(|u| u.uid != 0) {
        context.caps.clear();
    }
    context
}

/// The name of the JSON report's schema (`enforce --json`).
pub const JSON_SCHEMA: &str = "syscall-profile/enforce/v1";

/// The report of an enforced (or complain-mode) run as JSON: each denied
/// syscall with its count, errno or kill, first caller, and for a syscall
/// whose privilege is in an argument the refused values by name; what the
/// profile allows instead; the rules that would allow what was denied. The
/// command line is redacted, as in every file the tool writes.
pub fn json_report(enforcement: &Enforcement, options: &EnforceOptions) -> String {
    let command = redact::command_line(
        &options
            .command
            .iter()
            .map(|w| w.to_string_lossy().into_owned())
            .collect::<Vec<_>>(),
    );
    let rules: Vec<serde_json::Value> = allow_rules(enforcement)
        .iter()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    let escapes: Vec<serde_json::Value> = enforcement
        .escapes
        .iter()
        .map(|e| serde_json::json!({"pid": e.pid, "comm": e.comm, "destination": e.destination}))
        .collect();
    let report = serde_json::json!({
        "schema": JSON_SCHEMA,
        "profile": options.profile.display().to_string(),
        "command": command,
        "complain": enforcement.complain,
        "exit_code": enforcement.exit_code,
        "denials": enforcement.denials,
        "unchecked_conditions": enforcement.conditional,
        "runtime_base_denied": enforcement.base_denied,
        "allow_rules": rules,
        "suggestion": enforcement.suggestion.as_ref().map(|p| p.display().to_string()),
        "escapes": escapes,
        "retry_loops": enforcement.retry_loops,
        "warnings": enforcement.warnings,
        "engine_default": enforcement.engine_default,
    });
    // Strings, numbers, lists and maps with string keys: it serializes.
    let mut text = serde_json::to_string_pretty(&report).unwrap_or_default();
    text.push('\n');
    text
}

/// The capabilities and kernel a command runs with: a container's as its
/// engine sets them (from `engine_default`'s capabilities and the run's
/// `--cap-add`/`--cap-drop`), or a native program's own.
fn run_context(
    options: &EnforceOptions,
    arch: Arch,
    engine_default: Option<&Baseline>,
) -> Result<DockerContext, EnforceError> {
    Ok(
        match (ContainerRun::parse(&options.command), engine_default) {
            (Some(run), Some(default)) => container_context(&run, default)?,
            _ => native_context(options, arch),
        },
    )
}

/// The container `run` gets from its engine, whose default is `default`.
fn container_context(
    run: &ContainerRun,
    default: &Baseline,
) -> Result<DockerContext, EnforceError> {
    let values = |names: &[&str]| -> Vec<String> {
        run.find(names).filter_map(|o| o.value.clone()).collect()
    };
    Ok(default.context(&values(&["cap-add"]), &values(&["cap-drop"]))?)
}

/// What a suggestion adds to the policy: whole syscalls, and argument rules
/// for the syscalls whose refused values are all known.
#[derive(Debug, Default)]
struct Additions {
    names: SyscallSet,
    rules: Vec<SyscallRule>,
}

impl Additions {
    /// What allows exactly `denials`: the refused values of a syscall whose
    /// privilege is in an argument, else the syscall.
    fn of(denials: &[DeniedSyscall]) -> Additions {
        let mut additions = Additions::default();
        for denial in denials {
            if denial.falls_back_to.is_some() {
                continue;
            }
            let rules = denial
                .values_complete()
                .then(|| arguments::allow_rules(&denial.name, &denial.values))
                .flatten();
            match rules {
                Some(rules) => {
                    for rule in rules {
                        if !additions
                            .rules
                            .iter()
                            .any(|r| r.names == rule.names && r.args == rule.args)
                        {
                            additions.rules.push(rule);
                        }
                    }
                }
                None => {
                    additions.names.insert(denial.name.as_str());
                }
            }
        }
        // A syscall allowed whole needs no rule for its values.
        let names = &additions.names;
        additions
            .rules
            .retain(|rule| !rule.names.iter().any(|n| names.contains(n)));
        additions
    }

    fn is_empty(&self) -> bool {
        self.names.is_empty() && self.rules.is_empty()
    }

    /// The rules, each as one line of JSON to add to a profile's `syscalls`:
    /// the whole syscalls first.
    fn json_lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        let whole = (!self.names.is_empty()).then(|| {
            SyscallRule::new(
                self.names.iter().map(str::to_owned).collect(),
                Action::Allow,
            )
        });
        for rule in whole.iter().chain(&self.rules) {
            // A rule is strings, integers and lists: it always serializes.
            lines.push(serde_json::to_string(rule).unwrap_or_default());
        }
        lines
    }
}

/// The rules that allow what a run had denied (the refused values where
/// they are known), each as one line of JSON to add to the profile's
/// `syscalls`.
pub fn allow_rules(enforcement: &Enforcement) -> Vec<String> {
    let mut additions = Additions::of(&enforcement.denials);
    for name in &enforcement.base_denied {
        additions.names.insert(name.as_str());
    }
    additions.json_lines()
}

/// The syscalls of the container runtime's base set that the profile
/// refuses (the runtime makes them under the filter, before the
/// entrypoint runs).
fn runtime_denials(
    profile: &Profile,
    run: &EngineRun,
    engine_default: &Baseline,
) -> Result<Vec<String>, EnforceError> {
    let Some(base) = run
        .runtime()
        .and_then(|name| runtime_base::for_runtime(run.run.engine, &name))
    else {
        return Ok(Vec::new());
    };
    let context = container_context(&run.run, engine_default)?;
    let policy = EffectivePolicy::evaluate(profile, &context);
    Ok(base
        .syscalls()
        .iter()
        .filter(|name| matches!(policy.access(name), Access::Denied(_)))
        .map(str::to_owned)
        .collect())
}

/// Starts `path` in the cgroup whose `cgroup.procs` is `procs`, under
/// `filter`, installed in the child as the last step before `execve`.
fn spawn_native(
    path: &Path,
    args: &[OsString],
    procs: &File,
    filter: CompiledFilter,
    ends: Option<ChildEnds>,
    user: Option<&RunAs>,
) -> std::io::Result<tokio::process::Child> {
    let mut cmd = process::command_in_cgroup(path, args, procs, user);
    // SAFETY: `install` makes plain syscalls (getpid, prctl, seccomp, and
    // for a listener a write and a read) and allocates nothing: safe
    // between fork and exec. It runs after the cgroup move (closures run in
    // the order they were added).
    unsafe {
        cmd.pre_exec(move || filter.install(ends));
    }
    cmd.spawn()
}

/// `--complain`: record the command, then set what it did against the
/// profile. Nothing is blocked.
async fn complain(
    options: EnforceOptions,
    profile: &Profile,
    arch: Arch,
    profile_warnings: Vec<String>,
    say: &mut dyn FnMut(LiveEvent),
) -> Result<Enforcement, EnforceError> {
    let suggest = options
        .suggest
        .as_deref()
        .map(|p| Output::prepare(Some(p)))
        .transpose()?;
    let mut record_options = RecordOptions::new(options.command.clone());
    record_options.discard_profile = true;
    record_options.quiet = options.quiet;
    record_options.user = options.user.clone();
    record_options.until = options.until;
    record_options.duration = options.duration;
    record_options.say = options.say;
    // Only what the command did: names it never called are no denials.
    record_options.no_implied = true;
    // What the profile gives each syscall in the context the command runs
    // in: a container's capabilities as its engine sets them, or the
    // program's own.
    let engine_default = Baseline::for_command(&options.command);
    let context = run_context(&options, arch, engine_default.as_ref())?;
    let policy = EffectivePolicy::evaluate(profile, &context);
    let mut would = WouldRefuse::new(policy.clone(), say);
    let mut observer = |observation: &recording::tracer::Observation| would.observe(observation);
    let recording = recording::record_observed(record_options, Some(&mut observer)).await?;
    let observed = observed_values(&recording.observation);
    let mut warnings = profile_warnings;
    warnings.extend(recording.warnings);
    let counts = recording
        .stats
        .syscalls
        .iter()
        .chain(&recording.stats.runtime_syscalls);
    let Judgement {
        mut denials,
        conditional,
    } = judge_run(&policy, counts, &observed, &mut warnings);
    // Runtime base names the recording merged in were not observed, but
    // the runtime needs them: said apart.
    let base_denied: Vec<String> = recording
        .runtime
        .iter()
        .flat_map(|r| r.added_by_base.iter())
        .filter(|name| matches!(policy.access(name), Access::Denied(_)))
        .filter(|name| !denials.iter().any(|d| d.name == *name))
        .map(str::to_owned)
        .collect();
    denials.sort_by(|a, b| a.name.cmp(&b.name));
    denials::explain(&mut denials, &policy);
    let mut additions = Additions::of(&denials);
    for name in &base_denied {
        additions.names.insert(name.as_str());
    }
    let suggestion = match suggest {
        Some(output) if !additions.is_empty() => Some(write_suggestion(
            output, profile, arch, &additions, &options,
        )?),
        _ => None,
    };
    Ok(Enforcement {
        exit_code: recording.exit_code,
        denials,
        conditional,
        base_denied,
        suggestion,
        escapes: recording.observation.events.escapes.clone(),
        warnings,
        complain: true,
        engine_default: engine_default.map(|b| b.describe()),
        outlived: recording.outlived.clone(),
        guardian: Some(recording.guardian),
        retry_loops: Vec::new(),
        own_listener_refused: false,
    })
}

/// What complain mode makes of a run: the syscalls (and argument values)
/// the profile would have denied, and the syscalls whose conditions it
/// could not check.
struct Judgement {
    denials: Vec<DeniedSyscall>,
    conditional: Vec<String>,
}

/// Sets the run's syscall `counts` (both phases) and captured values
/// (`observed`, by table and number) against `policy`: a syscall it
/// refuses whatever its arguments is denied with all its calls; one it
/// allows only under conditions is denied with the calls whose values it
/// would refuse, judged as the filter would judge them.
fn judge_run<'a>(
    policy: &EffectivePolicy,
    counts: impl IntoIterator<Item = &'a SyscallCount>,
    observed: &BTreeMap<(String, u64), CapturedCalls>,
    warnings: &mut Vec<String>,
) -> Judgement {
    let mut conditional = BTreeSet::new();
    let mut denials: Vec<DeniedSyscall> = Vec::new();
    // A syscall's values are judged once, for both phases together.
    let mut judged = BTreeSet::new();
    for count in counts {
        let values = observed.get(&(count.arch.clone(), count.nr));
        let first_time = judged.insert((count.arch.clone(), count.nr));
        let (calls, tuples, lost) = match policy.access(&count.name) {
            Access::Allowed => continue,
            Access::Conditional { .. } => {
                let judgement = values.map(|v| arguments::judge(policy, &count.name, v));
                match judgement {
                    None => {
                        conditional.insert(count.name.clone());
                        continue;
                    }
                    Some(Judged::Undecided(why)) => {
                        conditional.insert(format!("{} ({why})", count.name));
                        continue;
                    }
                    Some(Judged::Decided { refused, unknown }) => {
                        if !first_time {
                            continue;
                        }
                        if unknown > 0 {
                            warnings.push(format!(
                                "{unknown} call(s) of {} passed values the kernel found no \
                                 room to keep: complain mode could not check them against \
                                 the profile's conditions",
                                count.name
                            ));
                        }
                        if refused.is_empty() {
                            continue;
                        }
                        let calls = refused.iter().map(|r| r.1).sum();
                        let tuples: Vec<(Vec<u64>, u64)> =
                            refused.into_iter().map(|(t, n, _)| (t, n)).collect();
                        (calls, tuples, unknown)
                    }
                }
            }
            Access::Denied(_) => match values.filter(|_| first_time) {
                Some(v) => (
                    count.count,
                    v.values.iter().map(|(t, n)| (t.clone(), *n)).collect(),
                    v.lost,
                ),
                None => (count.count, Vec::new(), 0),
            },
        };
        let index = match denials.iter().position(|d| d.name == count.name) {
            Some(index) => {
                denials[index].count += calls;
                index
            }
            None => {
                denials.push(DeniedSyscall::new(
                    count.name.clone(),
                    count.arch.clone(),
                    count.nr as i64,
                    calls,
                ));
                denials.len() - 1
            }
        };
        let denial = &mut denials[index];
        if let Some(captured) = crate::arguments::captured(&count.name)
            && (!tuples.is_empty() || lost > 0)
        {
            let mut all: Vec<(Vec<u64>, u64)> =
                denial.values.iter().map(|v| (v.tuple(), v.count)).collect();
            all.extend(tuples);
            denial.values = arguments::denied_values(captured, all);
            denial.values_lost += lost;
        }
    }
    Judgement {
        denials,
        conditional: conditional.into_iter().collect(),
    }
}

/// The captured values of a recording, both phases together, by table
/// (its short name, as the statistics give it) and number.
fn observed_values(
    observation: &recording::tracer::Observation,
) -> BTreeMap<(String, u64), CapturedCalls> {
    let mut out: BTreeMap<(String, u64), CapturedCalls> = BTreeMap::new();
    let phases = observation
        .arguments
        .iter()
        .chain(&observation.runtime_arguments);
    for ((arch, nr), calls) in phases {
        let merged = out.entry((arch.short_name().to_owned(), *nr)).or_default();
        for (tuple, count) in &calls.values {
            *merged.values.entry(tuple.clone()).or_default() += count;
        }
        merged.lost += calls.lost;
    }
    out
}

/// A profile allowing exactly what was denied (the refused values of a
/// syscall whose privilege is in an argument, else the syscall), to merge
/// into the policy: it keeps the policy's default action and
/// architectures, so the two merge.
fn write_suggestion(
    output: Output,
    policy: &Profile,
    arch: Arch,
    additions: &Additions,
    options: &EnforceOptions,
) -> Result<PathBuf, EnforceError> {
    let comment = format!(
        "syscalls {} denied while running `{}` under {}",
        if options.complain {
            "that would have been"
        } else {
            ""
        },
        redact::command_line(
            &options
                .command
                .iter()
                .map(|w| w.to_string_lossy().into_owned())
                .collect::<Vec<_>>()
        )
        .join(" "),
        options.profile.display()
    )
    .replace("  ", " ");
    let mut profile = Profile::allow_list(arch, &additions.names, Some(comment));
    if additions.names.is_empty() {
        profile.syscalls.clear();
    }
    profile.syscalls.extend(additions.rules.iter().cloned());
    profile.default_action = policy.default_action;
    profile.default_errno_ret = policy.default_errno_ret;
    profile.architectures = policy.architectures.clone();
    profile.arch_map = policy.arch_map.clone();
    let path = output
        .commit(&profile.to_json())?
        .unwrap_or_else(|| PathBuf::from("-"));
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::KernelVersion;

    fn policy(rules: serde_json::Value) -> EffectivePolicy {
        let text = serde_json::json!({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": rules});
        let profile: Profile = serde_json::from_value(text).unwrap();
        let context = DockerContext {
            native: Arch::X86_64,
            caps: Default::default(),
            kernel: KernelVersion {
                major: 6,
                minor: 18,
            },
        };
        EffectivePolicy::evaluate(&profile, &context)
    }

    fn count(name: &str, nr: u64, count: u64) -> SyscallCount {
        SyscallCount {
            name: name.to_owned(),
            arch: "x86_64".to_owned(),
            nr,
            count,
        }
    }

    /// Calls of one syscall: its number, each tuple with its count, and
    /// the calls whose values were lost.
    type Observed<'a> = (u64, &'a [(&'a [u64], u64)], u64);

    fn observed(entries: &[Observed<'_>]) -> BTreeMap<(String, u64), CapturedCalls> {
        entries
            .iter()
            .map(|(nr, values, lost)| {
                let calls = CapturedCalls {
                    values: values.iter().map(|(t, n)| (t.to_vec(), *n)).collect(),
                    lost: *lost,
                };
                (("x86_64".to_owned(), *nr), calls)
            })
            .collect()
    }

    /// The run's values against the profile's conditions: a refused value
    /// is a denial with its calls (once, though both phases counted the
    /// syscall), an allowed one is none; a syscall refused outright keeps
    /// all its values, for the suggestion; conditions on what is not kept
    /// leave the syscall unchecked, with the reason.
    #[test]
    fn complain_judges_each_tuple_as_the_filter_would() {
        let policy = policy(serde_json::json!([
            {"names": ["ioctl"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 1, "value": 0x541b, "op": "SCMP_CMP_EQ"}]},
            {"names": ["fcntl"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 3, "op": "SCMP_CMP_EQ"}]},
            {"names": ["read"], "action": "SCMP_ACT_ALLOW"},
        ]));
        let counts = [
            count("read", 0, 9),
            count("ioctl", 16, 5),
            count("ioctl", 16, 2), // the runtime phase
            count("socket", 41, 1),
            count("fcntl", 72, 4),
        ];
        let observed = observed(&[
            (16, &[(&[0x541b], 4), (&[0x5412], 3)], 0),
            (41, &[(&[40, 1, 0], 1)], 0),
            (72, &[(&[1], 4)], 0),
        ]);
        let mut warnings = Vec::new();
        let judged = judge_run(&policy, &counts, &observed, &mut warnings);
        let names: Vec<&str> = judged.denials.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["ioctl", "socket"]);
        let ioctl = &judged.denials[0];
        assert_eq!(ioctl.count, 3, "the TIOCSTI calls only");
        assert_eq!(ioctl.values.len(), 1);
        assert_eq!(ioctl.values[0].tuple(), [0x5412]);
        assert_eq!(ioctl.values[0].count, 3);
        let socket = &judged.denials[1];
        assert_eq!(
            (socket.count, socket.values[0].tuple()),
            (1, vec![40, 1, 0])
        );
        assert_eq!(judged.conditional.len(), 1);
        assert!(
            judged.conditional[0].starts_with("fcntl (a condition on argument 0"),
            "{:?}",
            judged.conditional
        );
        assert!(warnings.is_empty());

        // Suggested: the refused values, as argument rules.
        let additions = Additions::of(&judged.denials);
        assert!(additions.names.is_empty());
        assert_eq!(additions.rules.len(), 2);
        assert_eq!(
            additions.rules[0].comment.as_deref(),
            Some("ioctl: TIOCSTI")
        );

        // Values the kernel found no room for: said, and the syscall is then
        // suggested whole.
        let observed = self::observed(&[(16, &[(&[0x5412], 1)], 6)]);
        let judged = judge_run(&policy, &counts[1..2], &observed, &mut warnings);
        assert_eq!(judged.denials[0].values_lost, 6);
        assert!(warnings[0].contains("6 call(s) of ioctl"), "{warnings:?}");
        let additions = Additions::of(&judged.denials);
        assert!(additions.names.contains("ioctl") && additions.rules.is_empty());
    }
}
