//! How an enforced run is planned and started: the profile made into a
//! filter (native) or an engine's option (container), the denials watch
//! chosen, the command spawned under it.

use super::*;

/// What `enforce` runs, checked.
pub(super) enum Target {
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
pub(super) fn own_listener_warning(why: &str) -> String {
    format!(
        "--watch listener can change what the program gets: {why}; --watch kernel (or auto) \
         does not"
    )
}

/// A native program: resolved, its filter compiled, execve checked.
pub(super) fn plan_native(
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
pub(super) fn plan_container(
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
pub(super) fn oci_file(profile: &Profile) -> Result<File, EnforceError> {
    let text = crate::export::oci::to_text(&crate::export::oci::to_oci(profile)?);
    text_file(&text)
}

/// `text` in a temporary file with no name, read from its start.
pub(super) fn text_file(text: &str) -> Result<File, EnforceError> {
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
pub(super) fn spawn(
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
            let (cgroup_option, cgroup_value) =
                run.run.cgroup_args(session.cgroup().engine_parent()?);
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
pub(super) fn refuse_if_execve_denied(
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
pub(super) fn native_context(options: &EnforceOptions, arch: Arch) -> DockerContext {
    let mut context = filter::native_context(arch);
    if options.user.as_ref().is_some_and(|u| u.uid != 0) {
        context.caps.clear();
    }
    context
}

/// The capabilities and kernel a command runs with: a container's as its
/// engine sets them (from `engine_default`'s capabilities and the run's
/// `--cap-add`/`--cap-drop`), or a native program's own.
pub(super) fn run_context(
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
pub(super) fn container_context(
    run: &ContainerRun,
    default: &Baseline,
) -> Result<DockerContext, EnforceError> {
    let values = |names: &[&str]| -> Vec<String> {
        run.find(names).filter_map(|o| o.value.clone()).collect()
    };
    Ok(default.context(&values(&["cap-add"]), &values(&["cap-drop"]))?)
}

/// Starts `path` in the cgroup whose `cgroup.procs` is `procs`, under
/// `filter`, installed in the child as the last step before `execve`.
pub(super) fn spawn_native(
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
