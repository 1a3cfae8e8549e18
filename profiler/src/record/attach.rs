//! `record --attach TARGET`: a workload that already runs, recorded from
//! now until `--duration`, a signal (Ctrl-C, SIGTERM), or its end (its
//! cgroup empties or goes). Nothing is done to it: the counting program
//! watches its cgroup tree as the kernel has it (what `docker exec` starts
//! in it too); no process of the tool enters it.
//!
//! A container under a seccomp filter is recorded at the filter boundary,
//! as `record` has it: a process the runtime starts in it later (`docker
//! exec`) counts from its filter install on, and what the runtime does
//! between that install and the `execve` is the runtime's, to which the
//! base set is added. Anything else (a service, a cgroup, a process's
//! cgroup, a container without a filter) counts all its calls.

use std::time::{Instant, SystemTime};

use super::*;

/// What stopped an attached recording.
enum Ended {
    Duration,
    Signal(i32),
    /// The target's cgroup holds no process any more, or is gone.
    Target,
}

/// Records `attached` until its end, the deadline or a signal.
pub(super) async fn run(
    options: &RecordOptions,
    arch: Arch,
    attached: Attached,
    mut observer: Option<Observer<'_>>,
) -> Result<Ran, RecordError> {
    let interrupt = session::interrupt::Interrupt::catch().map_err(SessionError::Signals)?;
    let guardian = Guardian::spawn().map_err(SessionError::Guardian)?;
    let filtered = attached.container.is_some() && under_filter(&attached);
    let boundary = match filtered {
        true => Boundary::SeccompFilter,
        false => Boundary::Everything,
    };
    let capture_arguments = options.granularity != Granularity::Names
        || boundary == Boundary::SeccompFilter
        || options.stats.is_some();
    let mut tracer = Tracer::start(
        attached.tree,
        options.hook,
        boundary,
        arch,
        capture_arguments,
        options.coverage || options.include_reachable,
    )?;
    let at = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
    let mut warnings = Vec::new();
    if attached.container.is_some() && !filtered {
        warnings.push(format!(
            "{} runs under no seccomp filter, so the calls of what its runtime starts in it \
             later (`docker exec`'s set-up) cannot be told from the workload's: they are in \
             the profile",
            attached.what
        ));
    }
    // A container's programs are scanned inside it, through its own root,
    // opened now: the container may be gone when the recording ends.
    let attached_root = match &attached.container {
        Some(running) if options.coverage || options.include_reachable => {
            match AttachedRoot::open(&attached, running) {
                Ok(root) => Some(root),
                Err(e) => {
                    warnings.push(format!(
                        "no coverage for {}: its root cannot be opened: {e}",
                        attached.what
                    ));
                    None
                }
            }
        }
        _ => None,
    };
    if !options.quiet {
        (options.say)(Notice::Note(format!(
            "recording {} from now on ({}); Ctrl-C ends the recording, not the workload",
            attached.what,
            match options.duration {
                Some(d) => format!("for {} s, or until it ends", d.as_secs()),
                None => "until it ends".to_owned(),
            }
        )));
    }
    let live = (options.live)();
    let started = Instant::now();
    let deadline = options.duration.map(|d| started + d);
    let mut last_refresh: Option<Instant> = None;
    let ended = loop {
        if let Some(signal) = interrupt.signal() {
            break Ended::Signal(signal);
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            break Ended::Duration;
        }
        if !attached.populated() {
            break Ended::Target;
        }
        if boundary == Boundary::SeccompFilter
            && let Err(e) = tracer.end_runtime_phase_if_over()
        {
            warnings.push(e.to_string());
        }
        let due = last_refresh.is_none_or(|at| at.elapsed() >= REFRESH);
        if (live.is_shown() || observer.is_some())
            && due
            && let Ok(observation) = tracer.snapshot()
        {
            last_refresh = Some(Instant::now());
            live.update(observation.distinct(), observation.total_calls());
            if let Some(observer) = observer.as_mut() {
                observer(&observation);
            }
        }
        tokio::time::sleep(RUNTIME_PHASE_POLL).await;
    };
    let duration = started.elapsed();
    live.finish();
    let observation = tracer.snapshot()?;
    tracer.stop()?;
    drop(interrupt);
    if !options.quiet {
        let why = match ended {
            Ended::Duration => "its --duration is over".to_owned(),
            Ended::Signal(signal) => format!("signal {signal} came"),
            Ended::Target => format!("{} ended", attached.what),
        };
        (options.say)(Notice::Note(format!(
            "the recording ended: {why}; the workload was left as it was"
        )));
    }
    let runtime = attached.container.as_ref().filter(|_| filtered).map(|c| {
        (
            c.engine,
            c.runtime.clone().unwrap_or_else(|| "unknown".to_owned()),
        )
    });
    Ok(Ran {
        exit_code: exit::SUCCESS,
        duration,
        observation,
        outlived: None,
        warnings,
        executable: match attached.container {
            Some(_) => None,
            None => first_executable(&attached),
        },
        runtime,
        container: None,
        guardian,
        attached: Some(stats::Attachment {
            target: attached.what.clone(),
            at,
        }),
        attached_root,
    })
}

/// An attached container's own root, opened when the recording began, the
/// programs its processes ran then (paths inside it), and the container.
pub(super) struct AttachedRoot {
    pub(super) tree: crate::scan::tree::Tree,
    pub(super) running: Vec<PathBuf>,
    pub(super) container: Running,
}

impl AttachedRoot {
    /// Opens `/proc/PID/root` of the container's first process (a handle
    /// on its root, every path below resolved inside it) and notes the
    /// executables of its processes as they are named inside it.
    fn open(attached: &Attached, running: &Running) -> Result<AttachedRoot, String> {
        let root = PathBuf::from(format!("/proc/{}/root", running.pid));
        let tree = crate::scan::tree::Tree::dir(&root).map_err(|e| e.to_string())?;
        let mut programs: Vec<PathBuf> = std::iter::once(running.pid)
            .chain(attached.processes())
            .filter_map(|pid| std::fs::read_link(format!("/proc/{pid}/exe")).ok())
            .filter(|path| path.is_absolute() && !path.to_string_lossy().ends_with(" (deleted)"))
            .collect();
        programs.sort();
        programs.dedup();
        Ok(AttachedRoot {
            tree,
            running: programs,
            container: running.clone(),
        })
    }
}

/// Whether the processes of the container run under a seccomp filter (as
/// `/proc/PID/status` says: `Seccomp: 2`): the first that says decides.
fn under_filter(attached: &Attached) -> bool {
    let pids = attached
        .container
        .iter()
        .map(|c| c.pid)
        .chain(attached.processes());
    for pid in pids {
        let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
            continue;
        };
        if let Some(mode) = status.lines().find_map(|l| l.strip_prefix("Seccomp:")) {
            return mode.trim() == "2";
        }
    }
    false
}

/// The executable of the first process of a native target (for the
/// runtimes `implied` knows, and the coverage scan).
fn first_executable(attached: &Attached) -> Option<PathBuf> {
    attached
        .processes()
        .into_iter()
        .find_map(|pid| std::fs::read_link(format!("/proc/{pid}/exe")).ok())
        .filter(|path| path.is_absolute() && path.is_file())
}
