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
//!   suggested ([`crate::judge::values`]): the profile's argument conditions are
//!   evaluated in complain mode too, and a suggestion allows the refused
//!   values rather than the whole syscall.
//!
//! Here: the options, the result and `enforce` itself. How a run is
//! planned and started is in `plan`, its supervision in `running`,
//! complain mode and its judgement in `complain`, the JSON report and the
//! suggestion in `report`.

mod complain;
pub(crate) mod denials;
pub(crate) mod listener;
mod plan;
mod report;
mod running;

pub(crate) use report::allow_rules;

use std::{
    ffi::OsString,
    fs::File,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use self::{
    complain::*,
    denials::DenialWatch,
    listener::Listener,
    plan::*,
    report::{Additions, runtime_denials, write_suggestion},
    running::*,
};
use crate::{
    baseline::{Baseline, BaselineError},
    choice::choice,
    engine::{ContainerRun, Engine, EngineError, EngineRun, runtime_base},
    exit,
    filter::{self, ChildEnds, CompiledFilter, FilterError},
    judge::{
        denial::{self, DeniedSyscall},
        live::{self, LiveEvent, RetryLoop},
        values,
    },
    notice::{self, Notice},
    output::{Output, OutputError},
    profile::{
        Action, Arch, EPERM, Profile, ProfileError, SyscallRule, SyscallSet,
        eval::{Access, DockerContext, EffectivePolicy, resolved},
    },
    record::{RecordError, RecordOptions},
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
    #[error("the seccomp listener failed: {0}")]
    ListenerFailed(#[source] listener::ListenerError),
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
    #[error("cannot start the seccomp listener{what}: {source}")]
    Listener {
        /// What of it could not start (`""`: the listener itself).
        what: &'static str,
        source: std::io::Error,
    },
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
    pub(crate) fn exit_code(&self) -> i32 {
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
pub(crate) struct EnforceOptions {
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
    /// `--complain`'s live view of its recording (the command line's line
    /// on a terminal).
    pub live: notice::LiveStart,
}

choice! {
    /// How `enforce` finds what the filter denies.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
    pub(crate) enum DenialWatching {
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
pub(crate) struct Enforcement {
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
    /// be killed before `enforce` is done; released with this (held, never
    /// read).
    #[expect(dead_code, reason = "held for its drop")]
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

/// Runs `options.command` under `options.profile`: the profile is read
/// (and for a native program compiled) before anything runs, so a malformed
/// one stops here; the command runs in a watched cgroup, and every denial
/// is collected.
///
/// While it runs, `say` gets each syscall (and argument value) refused for
/// the first time, and each retry loop ([`live`]), as the watches see them.
pub(crate) async fn enforce(
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
    let mut suggest = Output::prepare_if_given(options.suggest.as_deref())?;
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
            denial::explain(&mut denials, &policy);
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
    denial::explain(&mut denials, &policy);
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
