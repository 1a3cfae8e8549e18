//! `syscall-profile record`: run a command in a fresh cgroup with the
//! counting program attached, and turn what it counted into a profile.

pub mod cgroup;
pub mod command;
mod container;
pub mod hook;
mod progress;
pub mod stats;
pub mod tracer;

use std::{
    ffi::OsString,
    path::PathBuf,
    time::{Duration, Instant},
};

use futures_util::{FutureExt, StreamExt};

use self::{
    cgroup::{CgroupError, RecordingCgroup},
    command::CommandError,
    container::ContainerRecording,
    hook::Hook,
    progress::Progress,
    stats::{NumberCount, OutOfRange, STATS_SCHEMA, Stats, SyscallCount},
    tracer::{Boundary, Observation, Tracer, TracerError},
};
use crate::{
    engine::{ContainerRun, EngineError, EngineRun, runtime_base},
    implied::{self, Implied},
    output::{Output, OutputError},
    profile::{Arch, Profile, SyscallSet, table},
};

/// Exit status of `record` when the recorder itself fails (as `docker run`
/// uses 125 for its own failures, apart from the command's 126 and 127).
pub const EXIT_RECORDER_FAILED: i32 = 125;

/// How often the live line re-reads the counters.
const REFRESH: Duration = Duration::from_millis(250);

#[derive(Debug, Clone)]
pub struct RecordOptions {
    /// The command and its arguments; the first is looked up in `PATH`.
    pub command: Vec<OsString>,
    /// Where the profile goes; standard output when `None`.
    pub output: Option<PathBuf>,
    /// Where the per-syscall counts go, if anywhere.
    pub stats: Option<PathBuf>,
    /// No live line and no summary.
    pub quiet: bool,
    pub hook: Hook,
    /// End the recording after this long (the command is sent SIGTERM; a
    /// detached container is left running).
    pub duration: Option<Duration>,
    /// For a container: leave the runtime's base set out of the profile.
    pub no_runtime_base: bool,
    /// Leave out the syscalls the kernel and language runtimes make by
    /// timing (`crate::implied`): the profile holds only what was observed.
    pub no_implied: bool,
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
    Cgroup(#[from] CgroupError),
    #[error(transparent)]
    Tracer(#[from] TracerError),
    #[error("cannot watch for signals: {0}")]
    Signals(std::io::Error),
    #[error("lost track of the recorded command: {0}")]
    Wait(std::io::Error),
    #[error("interrupted by signal {0} before the command started; it did not run")]
    Interrupted(i32),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("cannot write the recording's seccomp profile to a temporary file: {0}")]
    TempFile(std::io::Error),
}

impl RecordError {
    /// The exit status `record` ends with for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            RecordError::Command(e) => e.exit_code(),
            RecordError::Interrupted(signal) => 128 + signal,
            _ => EXIT_RECORDER_FAILED,
        }
    }
}

/// The outcome of a recording whose command ran.
#[derive(Debug)]
pub struct Recording {
    /// The command's exit status, as a shell reports it; `record` exits with it.
    pub exit_code: i32,
    pub arch: Arch,
    pub observation: Observation,
    pub syscalls: SyscallSet,
    pub profile: Profile,
    pub stats: Stats,
    /// Where the profile was written (`None`: standard output).
    pub written_to: Option<PathBuf>,
    /// Things the user should know: unknown numbers, names libseccomp lacks,
    /// processes killed at the end.
    pub warnings: Vec<String>,
    /// For a container: what the runtime contributed.
    pub runtime: Option<RuntimeReport>,
    /// Syscalls added because the kernel or a runtime makes them by timing.
    pub implied: Implied,
}

/// What a container's runtime contributed to its profile.
#[derive(Debug, Clone)]
pub struct RuntimeReport {
    /// The OCI runtime (`runc`, `crun`), as the engine names it.
    pub name: String,
    /// Syscalls the runtime made in this run after installing the filter,
    /// up to the entrypoint's `execve`.
    pub observed: SyscallSet,
    /// The base set merged in (empty with `--no-runtime-base` or when there
    /// is none for this runtime), and the names it added to this run's.
    pub base: SyscallSet,
    pub added_by_base: SyscallSet,
}

/// What is recorded: a native command, or a container run.
enum Target {
    Native(PathBuf),
    Container(Box<ContainerRecording>),
}

/// Records `options.command`. Everything that can be checked before the
/// command starts is checked first, so a failure leaves nothing behind and
/// the command never ran.
pub async fn record(options: RecordOptions) -> Result<Recording, RecordError> {
    let (program, args) = options
        .command
        .split_first()
        .ok_or(RecordError::NoCommand)?;
    let container_run = ContainerRun::parse(&options.command);
    let native_program = match &container_run {
        Some(run) => {
            ContainerRecording::check(run)?;
            None
        }
        None => Some(command::resolve(program)?),
    };
    let output = Output::prepare(options.output.as_deref())?;
    let stats_output = options
        .stats
        .as_deref()
        .map(|p| Output::prepare(Some(p)))
        .transpose()?;
    let arch = Arch::host().ok_or(RecordError::UnsupportedArch(std::env::consts::ARCH))?;
    tracer::check_privileges()?;
    let engine_run = container_run.map(EngineRun::prepare).transpose()?;

    // Signals are caught from before the cgroup exists, so that an
    // interrupt can no longer kill the recorder with the cgroup left behind.
    let mut signals = command::catch_signals().map_err(RecordError::Signals)?;
    cgroup::remove_stale();
    let cgroup = RecordingCgroup::create("rec")?;
    let (target, boundary) = match (native_program, engine_run) {
        (_, Some(engine_run)) => (
            Target::Container(Box::new(ContainerRecording::prepare(engine_run, &cgroup)?)),
            Boundary::SeccompFilter,
        ),
        (Some(path), None) => (Target::Native(path), Boundary::Everything),
        (None, None) => unreachable!("a command is either a container run or native"),
    };
    let mut tracer = Tracer::attach(&cgroup, options.hook, boundary, arch)?;
    // A signal that came while setting up stops it before the command runs.
    if let Some(Some(origin)) = signals.next().now_or_never() {
        return Err(RecordError::Interrupted(origin.signal));
    }

    let mut warnings = Vec::new();
    let started = Instant::now();
    let mut child = match &target {
        Target::Native(path) => {
            let procs = cgroup.open_procs()?;
            command::command_in_cgroup(path, args, &procs).spawn()
        }
        Target::Container(recording) => {
            if !options.quiet {
                eprintln!("syscall-profile: {}", recording.notice);
            }
            for warning in &recording.warnings {
                eprintln!("syscall-profile: warning: {warning}");
            }
            // The engine's CLI stays outside the recorded cgroup: only the
            // container, below it, is recorded.
            let mut cli = tokio::process::Command::new(recording.cli());
            cli.args(&recording.argv[1..]);
            if recording.detached() {
                cli.stdout(std::process::Stdio::piped());
            }
            cli.spawn()
        }
    }
    .map_err(|source| CommandError::Spawn {
        program: program.to_string_lossy().into_owned(),
        source,
    })?;

    let progress = Progress::start(options.quiet);
    let mut refresh = tokio::time::interval(REFRESH);
    let deadline = options.duration.map(|d| tokio::time::Instant::now() + d);
    let mut waiting_for_detached = false;
    let mut container_left_running = false;
    let exit_code = loop {
        let child_pid = child.id();
        tokio::select! {
            status = child.wait() => {
                let status = status.map_err(RecordError::Wait)?;
                let code = command::shell_exit_code(status);
                match &target {
                    Target::Container(recording)
                        if recording.detached() && !waiting_for_detached && code == 0 =>
                    {
                        // `run -d` printed the container's id and returned:
                        // the recording goes on until the container ends.
                        let stdout = read_all(child.stdout.take()).await;
                        print!("{stdout}");
                        let Some(id) = container::container_id(&stdout) else {
                            break code;
                        };
                        child = recording.wait_command(&id).spawn().map_err(RecordError::Wait)?;
                        waiting_for_detached = true;
                    }
                    Target::Container(_) if waiting_for_detached => {
                        if code != 0 {
                            // `wait` itself was interrupted: the container
                            // goes on without us.
                            container_left_running = true;
                            break code;
                        }
                        let stdout = read_all(child.stdout.take()).await;
                        break stdout.trim().parse().unwrap_or(code);
                    }
                    _ => break code,
                }
            }
            Some(origin) = signals.next() => command::forward_signal(&origin, child_pid),
            () = sleep_until(deadline) => {
                warnings.push(format!(
                    "the recording ended after --duration {}s",
                    options.duration.map_or(0, |d| d.as_secs())
                ));
                if waiting_for_detached {
                    container_left_running = true;
                    break 0;
                }
                if let Some(pid) = child_pid {
                    // SAFETY: as above.
                    unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
                }
                // Waited for in the next rounds; the deadline fires once.
                continue;
            }
            _ = refresh.tick(), if progress.is_shown() || boundary == Boundary::SeccompFilter => {
                if boundary == Boundary::SeccompFilter
                    && let Err(e) = tracer.end_runtime_phase_if_over()
                {
                    warnings.push(e.to_string());
                }
                if progress.is_shown()
                    && let Ok(observation) = tracer.snapshot()
                {
                    progress.update(&observation);
                }
            }
        }
    };
    let duration = started.elapsed();
    progress.finish();

    let runtime_name = match &target {
        Target::Container(recording) => {
            if container_left_running {
                warnings.push(
                    "the container is still running and is no longer recorded; its cgroup \
                     parent is removed by a later recording once the container is gone"
                        .to_owned(),
                );
            }
            let patience = if container_left_running {
                Duration::ZERO
            } else {
                Duration::from_secs(5)
            };
            match cgroup.remove_after_engine(patience) {
                Ok(_) => {}
                Err(e) => warnings.push(e.to_string()),
            }
            Some((
                recording.engine_run.run.engine,
                recording
                    .engine_run
                    .runtime()
                    .unwrap_or_else(|| "unknown".to_owned()),
            ))
        }
        Target::Native(_) => {
            // Whatever the command left running is killed, so that the cgroup
            // can go and the recording has an end; what it did until then is
            // counted.
            match cgroup.remove() {
                Ok(0) => {}
                Ok(n) => warnings.push(format!(
                    "{n} process(es) the command started were still running when it exited, \
                     and were killed"
                )),
                Err(e) => warnings.push(e.to_string()),
            }
            None
        }
    };
    let observation = tracer.snapshot()?;
    drop(tracer);

    let command_words: Vec<String> = options
        .command
        .iter()
        .map(|w| w.to_string_lossy().into_owned())
        .collect();
    let (mut syscalls, mut stats) =
        summarize(arch, &observation, &command_words, exit_code, duration);
    warnings.extend(describe_gaps(&stats));

    let runtime = runtime_name.map(|(engine, name)| {
        let observed = names_of(&observation.runtime_calls);
        let base = if options.no_runtime_base {
            SyscallSet::new()
        } else {
            match runtime_base::for_runtime(engine, &name) {
                Some(base) => base.syscalls(),
                None => {
                    warnings.push(format!(
                        "there is no base set for the runtime `{name}`: the profile holds only \
                         what the runtime did in this run after installing the filter, which \
                         varies from run to run; record several runs and merge them"
                    ));
                    SyscallSet::new()
                }
            }
        };
        let added_by_base: SyscallSet = base.difference(&syscalls).collect();
        for name in &added_by_base {
            syscalls.insert(name);
        }
        RuntimeReport {
            name,
            observed,
            base,
            added_by_base,
        }
    });

    // What the kernel and the program's runtime make by timing, triggered
    // by what was seen (`crate::implied`, rules in data/implied-syscalls.json).
    let implied = match &target {
        _ if options.no_implied => Implied::default(),
        Target::Native(path) => implied::complete(arch, &syscalls, std::slice::from_ref(path)),
        Target::Container(_) => implied::complete(arch, &syscalls, &[]),
    };
    for added in &implied.added {
        syscalls.insert(added.name.as_str());
    }
    warnings.extend(implied.warnings.iter().cloned());
    stats.implied = implied.added.clone();

    for name in syscalls
        .iter()
        .filter(|n| !table::libseccomp_knows(arch, n))
    {
        warnings.push(format!(
            "the libseccomp on this host does not know the syscall `{name}`: a runtime built \
             with it skips the name, so the profile cannot allow `{name}` there"
        ));
    }

    let mut comment = format!(
        "syscalls observed while recording `{}`",
        command_words.join(" ")
    );
    if let Some(runtime) = runtime.as_ref().filter(|r| !r.base.is_empty()) {
        comment.push_str(&format!(
            ", with the {} base set ({} syscalls the runtime makes after installing the filter)",
            runtime.name,
            runtime.base.len()
        ));
    }
    let profile = Profile::allow_list(arch, &syscalls, Some(comment));
    let written_to = output.commit(&profile.to_json())?;
    if let Some(stats_output) = stats_output {
        let text = serde_json::to_string_pretty(&stats).expect("stats always serialize") + "\n";
        stats_output.commit(&text)?;
    }

    Ok(Recording {
        exit_code,
        arch,
        observation,
        syscalls,
        profile,
        stats,
        written_to,
        warnings,
        runtime,
        implied,
    })
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

/// Sleeps until `deadline`, or forever without one.
async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// The names of counted numbers (those the tables know).
fn names_of(calls: &std::collections::BTreeMap<(Arch, u64), u64>) -> SyscallSet {
    calls
        .keys()
        .filter_map(|&(arch, nr)| table::name_of(arch, nr))
        .collect()
}

/// Names the counted numbers and splits off those without a name.
fn summarize(
    arch: Arch,
    observation: &Observation,
    command: &[String],
    exit_code: i32,
    duration: Duration,
) -> (SyscallSet, Stats) {
    let (counts, mut unknown) = count_entries(&observation.calls);
    let (runtime_counts, runtime_unknown) = count_entries(&observation.runtime_calls);
    unknown.extend(runtime_unknown);
    let syscalls: SyscallSet = counts
        .iter()
        .chain(&runtime_counts)
        .map(|c| c.name.as_str())
        .collect();
    let numbers: Vec<NumberCount> = observation
        .out_of_range
        .iter()
        .map(|(&(table_arch, nr), &count)| NumberCount {
            arch: table_arch.short_name().to_owned(),
            nr,
            count,
        })
        .collect();
    let attributed: u64 = numbers.iter().map(|n| n.count).sum();
    let stats = Stats {
        schema: STATS_SCHEMA.to_owned(),
        command: command.to_vec(),
        arch: arch.short_name().to_owned(),
        exit_code,
        duration_ms: u64::try_from(duration.as_millis()).unwrap_or(u64::MAX),
        total_calls: observation.total_calls(),
        syscalls: counts,
        runtime_syscalls: runtime_counts,
        unknown,
        out_of_range: OutOfRange {
            total: observation.out_of_range_total,
            unattributed: observation.out_of_range_total.saturating_sub(attributed),
            numbers,
        },
        implied: Vec::new(),
    };
    (syscalls, stats)
}

/// Named counts sorted by name and table, and the numbers without a name.
fn count_entries(
    calls: &std::collections::BTreeMap<(Arch, u64), u64>,
) -> (Vec<SyscallCount>, Vec<NumberCount>) {
    let mut counts = Vec::new();
    let mut unknown = Vec::new();
    for (&(table_arch, nr), &count) in calls {
        match table::name_of(table_arch, nr) {
            Some(name) => counts.push(SyscallCount {
                name: name.to_owned(),
                arch: table_arch.short_name().to_owned(),
                nr,
                count,
            }),
            None => unknown.push(NumberCount {
                arch: table_arch.short_name().to_owned(),
                nr: nr as i64,
                count,
            }),
        }
    }
    counts.sort_by(|a, b| (&a.name, &a.arch).cmp(&(&b.name, &b.arch)));
    (counts, unknown)
}

/// Warnings for calls that could not go into the profile.
fn describe_gaps(stats: &Stats) -> Vec<String> {
    let mut warnings = Vec::new();
    for n in &stats.unknown {
        warnings.push(format!(
            "{} call(s) of syscall number {} ({}), which the syscall table does not know; \
             not in the profile",
            n.count, n.nr, n.arch
        ));
    }
    let oor = &stats.out_of_range;
    if oor.total > 0 {
        let listed: Vec<String> = oor
            .numbers
            .iter()
            .map(|n| format!("{} ({}{}) ×{}", n.nr, n.arch, x32_hint(n.nr), n.count))
            .collect();
        let mut text = format!(
            "{} call(s) with syscall numbers outside the table, not in the profile: {}",
            oor.total,
            listed.join(", ")
        );
        if oor.unattributed > 0 {
            text.push_str(&format!("; {} more not split by number", oor.unattributed));
        }
        warnings.push(text);
    }
    warnings
}

/// x32 syscalls are x86_64 numbers with bit 30 set.
fn x32_hint(nr: i64) -> &'static str {
    const X32_SYSCALL_BIT: i64 = 0x4000_0000;
    if cfg!(target_arch = "x86_64") && nr & X32_SYSCALL_BIT != 0 && nr > 0 {
        ", an x32 number"
    } else {
        ""
    }
}
