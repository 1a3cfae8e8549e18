//! `syscall-profile enforce`: runs a native program or a container under a
//! profile, and explains every syscall the profile denied.
//!
//! - A native program gets the profile compiled with libseccomp (runc's
//!   semantics, see [`filter`]) and installed in the child right before
//!   `execve`, with no_new_privs; if the filter cannot be built or
//!   installed, the program does not run.
//! - A container gets the profile through its engine
//!   (`--security-opt seccomp=FILE`, replacing the user's own).
//! - Either way the program runs in a cgroup watched by the eBPF side, which
//!   reports each syscall the filter denied ([`denials`]), live on a
//!   terminal and at the end.
//! - `--complain` runs the program without blocking anything: it is
//!   recorded, and the report lists what the profile would have denied,
//!   with a profile that allows it (`--suggest FILE`).

pub mod denials;
pub mod filter;

use std::{
    collections::BTreeSet,
    ffi::OsString,
    fs::File,
    io::IsTerminal,
    path::{Path, PathBuf},
    time::Duration,
};

use futures_util::{FutureExt, StreamExt};

use self::{
    denials::{DenialWatch, DeniedSyscall},
    filter::{CompiledFilter, FilterError},
};
use crate::{
    baseline::{
        BaselineError,
        eval::{Access, DockerContext, EffectivePolicy},
    },
    engine::{ContainerRun, EngineError, EngineRun},
    output::{Output, OutputError},
    profile::{Arch, Profile, ProfileError, SyscallSet},
    recording::{
        self, RecordError, RecordOptions,
        cgroup::{CgroupError, RecordingCgroup},
        command::{self, CommandError},
        hook::Hook,
        tracer::TracerError,
    },
};

/// Exit status of `enforce` when it fails itself, before the command ran.
pub const EXIT_ENFORCER_FAILED: i32 = 125;

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
    Cgroup(#[from] CgroupError),
    #[error(transparent)]
    Tracer(#[from] TracerError),
    #[error(transparent)]
    Record(#[from] RecordError),
    #[error(transparent)]
    Baseline(#[from] BaselineError),
    #[error("this host's architecture ({0}) is not supported")]
    UnsupportedArch(&'static str),
    #[error("cannot watch for signals: {0}")]
    Signals(std::io::Error),
    #[error("lost track of the command: {0}")]
    Wait(std::io::Error),
    #[error(
        "cannot start {program} under the profile: {source} (the kernel refused the seccomp \
         filter, or the command could not be executed under it); it did not run"
    )]
    Start {
        program: String,
        source: std::io::Error,
    },
}

impl EnforceError {
    pub fn exit_code(&self) -> i32 {
        match self {
            EnforceError::NoCommand => 2,
            EnforceError::Command(e) => e.exit_code(),
            EnforceError::Record(e) => e.exit_code(),
            EnforceError::Start { .. } => command::EXIT_NOT_EXECUTABLE,
            _ => EXIT_ENFORCER_FAILED,
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
}

/// What `enforce` did.
#[derive(Debug)]
pub struct Enforcement {
    /// The command's exit status, as a shell reports it.
    pub exit_code: i32,
    /// What the filter denied (or, with `--complain`, would have denied).
    pub denials: Vec<DeniedSyscall>,
    /// With `--complain`: syscalls the profile allows only under argument
    /// conditions, which complain mode cannot check.
    pub conditional: Vec<String>,
    /// Where the suggestion was written.
    pub suggestion: Option<PathBuf>,
    /// Things the user should know.
    pub warnings: Vec<String>,
    pub complain: bool,
}

/// Runs `options.command` under `options.profile`.
pub async fn enforce(options: EnforceOptions) -> Result<Enforcement, EnforceError> {
    if options.command.is_empty() {
        return Err(EnforceError::NoCommand);
    }
    let arch = Arch::host().ok_or(EnforceError::UnsupportedArch(std::env::consts::ARCH))?;
    // Read (and, for a native program, compiled) before anything runs: a
    // malformed profile stops here.
    let profile = Profile::from_file(&options.profile)?;
    if options.complain {
        return complain(options, &profile, arch).await;
    }
    let container = ContainerRun::parse(&options.command);
    let compiled = match &container {
        None => Some(filter::compile(&profile, arch)?),
        Some(_) => None,
    };
    let program = match &container {
        None => Some(command::resolve(&options.command[0])?),
        Some(_) => None,
    };
    let suggest = options
        .suggest
        .as_deref()
        .map(|p| Output::prepare(Some(p)))
        .transpose()?;
    let engine_run = container.map(EngineRun::prepare).transpose()?;
    if let Some(run) = &engine_run {
        if run.run.privileged() {
            return Err(EngineError::Privileged.into());
        }
        if let Some(given) = run.run.find(&["cgroup-parent"]).next() {
            return Err(EngineError::CgroupParentGiven {
                value: given.value.clone().unwrap_or_default(),
            }
            .into());
        }
    }

    let mut warnings = Vec::new();
    if let Some(compiled) = compiled.as_ref().filter(|c| !c.skipped_names.is_empty()) {
        warnings.push(format!(
            "the libseccomp on this host does not know {} syscall(s) of the profile, whose \
             rules were skipped (as runc does): {}",
            compiled.skipped_names.len(),
            compiled.skipped_names.join(" ")
        ));
    }

    // Caught before the cgroup exists: see `record`.
    let mut signals = command::catch_signals().map_err(EnforceError::Signals)?;
    recording::cgroup::remove_stale();
    let cgroup = RecordingCgroup::create("enf")?;
    let mut watch = DenialWatch::attach(&cgroup, arch)?;
    if let Some(Some(origin)) = signals.next().now_or_never() {
        return Err(RecordError::Interrupted(origin.signal).into());
    }

    let spawned = match (&program, &engine_run, &compiled) {
        (Some(path), _, Some(compiled)) => {
            let procs = cgroup.open_procs()?;
            spawn_native(path, &options.command[1..], &procs, compiled.clone())
        }
        (_, Some(run), _) => {
            for option in run.run.seccomp_options() {
                warnings.push(format!(
                    "your `--security-opt {}` is replaced by the profile {}",
                    option.value.as_deref().unwrap_or_default(),
                    options.profile.display()
                ));
            }
            let absolute = std::path::absolute(&options.profile).map_err(|source| {
                EnforceError::ProfilePath {
                    path: options.profile.clone(),
                    source,
                }
            })?;
            let parent = cgroup.relative().to_string_lossy().into_owned();
            let seccomp = format!("seccomp={}", absolute.display());
            let argv = run.run.rewritten(&[
                "--cgroup-parent".into(),
                parent.into(),
                "--security-opt".into(),
                seccomp.into(),
            ]);
            if !options.quiet {
                eprintln!(
                    "syscall-profile: running the container under {}",
                    options.profile.display()
                );
            }
            tokio::process::Command::new(&run.cli)
                .args(&argv[1..])
                .spawn()
        }
        _ => unreachable!("a command is either native, with a compiled filter, or a container"),
    };
    for warning in warnings.drain(..) {
        eprintln!("syscall-profile: warning: {warning}");
    }
    let mut child = match spawned {
        Ok(child) => child,
        Err(source) => {
            // The filter was installed and the exec failed under it, or the
            // filter could not be installed: either way the command did not run.
            let denials = watch.denials().unwrap_or_default();
            let program = options.command[0].to_string_lossy().into_owned();
            report_denials(&denials, &options, false);
            return Err(EnforceError::Start { program, source });
        }
    };

    let live = !options.quiet && std::io::stderr().is_terminal();
    let mut shown: BTreeSet<(String, String)> = BTreeSet::new();
    let mut refresh = tokio::time::interval(Duration::from_millis(250));
    let status = loop {
        let pid = child.id();
        tokio::select! {
            status = child.wait() => break status.map_err(EnforceError::Wait)?,
            Some(origin) = signals.next() => command::forward_signal(&origin, pid),
            _ = refresh.tick(), if live => {
                for denial in watch.denials().unwrap_or_default() {
                    if shown.insert((denial.name.clone(), denial.arch.clone())) {
                        eprintln!(
                            "syscall-profile: denied: {} (pid {}, {})",
                            denial.name, denial.pid, denial.comm
                        );
                    }
                }
            }
        }
    };
    let exit_code = command::shell_exit_code(status);
    let denials = watch.denials()?;
    drop(watch);
    let removal = match engine_run {
        Some(_) => cgroup
            .remove_after_engine(Duration::from_secs(5))
            .map(|_| 0),
        None => cgroup.remove(),
    };
    if let Err(e) = removal {
        warnings.push(e.to_string());
    }

    let suggestion = match suggest {
        Some(output) if !denials.is_empty() => Some(write_suggestion(
            output, &profile, arch, &denials, &options,
        )?),
        _ => None,
    };
    Ok(Enforcement {
        exit_code,
        denials,
        conditional: Vec::new(),
        suggestion,
        warnings,
        complain: false,
    })
}

/// Starts `path` in the cgroup whose `cgroup.procs` is `procs`, under
/// `filter`, installed in the child as the last step before `execve`.
fn spawn_native(
    path: &Path,
    args: &[OsString],
    procs: &File,
    filter: CompiledFilter,
) -> std::io::Result<tokio::process::Child> {
    let mut cmd = command::command_in_cgroup(path, args, procs);
    // SAFETY: `install` makes two syscalls (prctl, seccomp) and allocates
    // nothing: safe between fork and exec. It runs after the cgroup move
    // (closures run in the order they were added).
    unsafe {
        cmd.pre_exec(move || filter.install());
    }
    cmd.spawn()
}

/// `--complain`: record the command, then set what it did against the
/// profile. Nothing is blocked.
async fn complain(
    options: EnforceOptions,
    profile: &Profile,
    arch: Arch,
) -> Result<Enforcement, EnforceError> {
    let suggest = options
        .suggest
        .as_deref()
        .map(|p| Output::prepare(Some(p)))
        .transpose()?;
    let scratch = tempfile::tempdir().map_err(RecordError::TempFile)?;
    let recording = recording::record(RecordOptions {
        command: options.command.clone(),
        output: Some(scratch.path().join("observed.json")),
        stats: None,
        quiet: options.quiet,
        hook: Hook::default(),
        duration: None,
        no_runtime_base: false,
        // Only what the command did: names it never called are no denials.
        no_implied: true,
    })
    .await?;
    // What the profile gives each syscall in the context the command ran in:
    // a container's capabilities as Docker sets them, or the program's own.
    let context = match ContainerRun::parse(&options.command) {
        Some(run) => {
            let values = |names: &[&str]| -> Vec<String> {
                run.find(names).filter_map(|o| o.value.clone()).collect()
            };
            DockerContext::host(&values(&["cap-add"]), &values(&["cap-drop"]))?
        }
        None => filter::native_context(arch),
    };
    let policy = EffectivePolicy::evaluate(profile, &context);
    let mut conditional = BTreeSet::new();
    let counts = recording
        .stats
        .syscalls
        .iter()
        .chain(&recording.stats.runtime_syscalls);
    let mut denials: Vec<DeniedSyscall> = Vec::new();
    for count in counts {
        match policy.access(&count.name) {
            Access::Allowed => continue,
            Access::Conditional { .. } => {
                conditional.insert(count.name.clone());
                continue;
            }
            Access::Denied(_) => {}
        }
        match denials.iter_mut().find(|d| d.name == count.name) {
            Some(d) => d.count += count.count,
            None => denials.push(DeniedSyscall {
                name: count.name.clone(),
                arch: count.arch.clone(),
                nr: count.nr as i64,
                count: count.count,
                errno: None,
                pid: 0,
                tid: 0,
                comm: String::new(),
                exe: None,
            }),
        }
    }
    // Runtime base names the recording merged in were not observed.
    for name in recording.syscalls.iter() {
        let denied = matches!(policy.access(name), Access::Denied(_));
        if denied && !denials.iter().any(|d| d.name == name) {
            let base = recording
                .runtime
                .as_ref()
                .is_some_and(|r| r.added_by_base.contains(name));
            if base {
                denials.push(DeniedSyscall {
                    name: name.to_owned(),
                    arch: arch.short_name().to_owned(),
                    nr: -1,
                    count: 0,
                    errno: None,
                    pid: 0,
                    tid: 0,
                    comm: "runtime base set".to_owned(),
                    exe: None,
                });
            }
        }
    }
    denials.sort_by(|a, b| a.name.cmp(&b.name));
    let suggestion = match suggest {
        Some(output) if !denials.is_empty() => {
            Some(write_suggestion(output, profile, arch, &denials, &options)?)
        }
        _ => None,
    };
    Ok(Enforcement {
        exit_code: recording.exit_code,
        denials,
        conditional: conditional.into_iter().collect(),
        suggestion,
        warnings: recording.warnings,
        complain: true,
    })
}

/// A profile allowing exactly the denied syscalls, to merge into the policy:
/// it keeps the policy's default action and architectures, so the two merge.
fn write_suggestion(
    output: Output,
    policy: &Profile,
    arch: Arch,
    denials: &[DeniedSyscall],
    options: &EnforceOptions,
) -> Result<PathBuf, EnforceError> {
    let names: SyscallSet = denials.iter().map(|d| d.name.as_str()).collect();
    let comment = format!(
        "syscalls {} denied while running `{}` under {}",
        if options.complain {
            "that would have been"
        } else {
            ""
        },
        options
            .command
            .iter()
            .map(|w| w.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" "),
        options.profile.display()
    )
    .replace("  ", " ");
    let mut profile = Profile::allow_list(arch, &names, Some(comment));
    profile.default_action = policy.default_action;
    profile.default_errno_ret = policy.default_errno_ret;
    profile.architectures = policy.architectures.clone();
    profile.arch_map = policy.arch_map.clone();
    let path = output
        .commit(&profile.to_json())?
        .unwrap_or_else(|| PathBuf::from("-"));
    Ok(path)
}

/// Prints the denial report on standard error.
pub fn report_denials(denials: &[DeniedSyscall], options: &EnforceOptions, complain: bool) {
    if denials.is_empty() {
        if !options.quiet {
            let what = if complain {
                "nothing the profile would have denied"
            } else {
                "no syscall was denied"
            };
            eprintln!("syscall-profile: {what}");
        }
        return;
    }
    let verb = if complain {
        "would have denied"
    } else {
        "denied"
    };
    eprintln!(
        "syscall-profile: the profile {} {verb} {} syscall(s):",
        options.profile.display(),
        denials.len()
    );
    for d in denials {
        let mut line = format!("  {:<20} {}×", d.name, d.count);
        if let Some(errno) = d.errno {
            line.push_str(&format!(", errno {errno}"));
        }
        if d.pid != 0 {
            line.push_str(&format!(", first by pid {} ({})", d.pid, d.comm));
        } else if !d.comm.is_empty() {
            line.push_str(&format!(" ({})", d.comm));
        }
        if let Some(exe) = &d.exe {
            line.push_str(&format!(", {exe}"));
        }
        eprintln!("{line}");
    }
}
