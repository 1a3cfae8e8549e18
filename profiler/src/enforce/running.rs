//! An enforced run supervised to its end: the session, the denial watch
//! (eBPF, the seccomp listener), what is said live, and what was denied.

use super::*;

/// Hands what the watches counted so far to [`live::LiveDenials`] on each
/// tick, and what it makes of it to the caller's `say`.
pub(super) struct LiveWatch<'a> {
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

/// What an enforced run showed.
pub(super) struct Watched {
    pub(super) exit_code: i32,
    pub(super) outlived: Option<Outlived>,
    pub(super) denials: Vec<DeniedSyscall>,
    pub(super) escapes: Vec<Escape>,
    pub(super) warnings: Vec<String>,
    pub(super) retry_loops: Vec<RetryLoop>,
}

/// Runs the planned command in a fresh watched cgroup under the profile,
/// supervised until it ends; collects the denials, and cleans up.
pub(super) async fn run(
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
    let mut watch = DenialWatch::start(
        session.cgroup().tree(),
        arch,
        answers.is_none(),
        options.hook,
    )?;
    let (mut listener, agent) = match (answers, target) {
        (None, _) => (None, None),
        (Some(policy), Target::Native { .. }) => (
            Some(
                Listener::start(policy.clone(), arch)
                    .map_err(|source| EnforceError::Listener { what: "", source })?,
            ),
            None,
        ),
        (Some(policy), Target::Container { .. }) => {
            let (listener, agent) =
                Listener::start_socket(policy.clone(), arch).map_err(|source| {
                    EnforceError::Listener {
                        what: "'s socket",
                        source,
                    }
                })?;
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
    watch.stop()?;
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
        let mut answered = listener.finish().map_err(EnforceError::ListenerFailed)?;
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
