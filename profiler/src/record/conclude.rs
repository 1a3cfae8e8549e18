//! The end of a recording: what was counted made into the profile and
//! the stats (with the runtime's base set, the implied syscalls, the
//! engine's default and the coverage), written, and summarised.

use super::*;

/// Turns what was counted into the profile and the stats, completed by the
/// runtime's base set and the implied syscalls, and writes them.
pub(super) fn conclude(
    options: &RecordOptions,
    arch: Arch,
    (output, stats_output): (Option<Output>, Option<Output>),
    (baseline, native_default): (Option<&ContainerBaseline>, Option<&NativeDefault>),
    ran: Ran,
) -> Result<Recording, RecordError> {
    let Ran {
        exit_code,
        duration,
        observation,
        outlived,
        mut warnings,
        executable,
        runtime,
        container,
        mut guardian,
        attached,
        attached_root,
    } = ran;
    let command_words: Vec<String> = redact::command_line(
        &options
            .command
            .iter()
            .map(|w| w.to_string_lossy().into_owned())
            .collect::<Vec<_>>(),
    );
    if let Some(native) = native_default {
        warnings.extend(native.warnings.iter().cloned());
    }
    let (mut syscalls, mut stats) =
        summarize(arch, &observation, &command_words, exit_code, duration);
    warnings.extend(describe_gaps(&stats));
    if let Some(attached) = &attached {
        warnings.push(attached.not_observed(executable.is_some() || attached_root.is_some()));
    }
    stats.attached = attached.clone();
    warnings.extend(
        observation
            .events
            .warnings(Watch::Recording, &command_words),
    );
    let runtime = runtime.map(|(engine, name)| {
        runtime_report(
            options,
            engine,
            name,
            &observation,
            &mut syscalls,
            &mut warnings,
        )
    });
    // The run's own signal handling ended with it: from here a signal ends
    // the scan at once, and the profile of what was recorded is written.
    let interrupt = session::interrupt::Interrupt::catch().ok();
    let mut coverage = (options.coverage || options.include_reachable)
        .then(|| match (&container, &attached_root) {
            (None, Some(root)) => {
                let executed: Vec<String> = observation
                    .events
                    .all_executed()
                    .map(|e| e.filename.clone())
                    .collect();
                let mut programs = root.running.clone();
                programs.extend(coverage::container_programs(&executed));
                programs.sort();
                programs.dedup();
                if !options.quiet {
                    (options.say)(Notice::Note(
                        "coverage: scanning the programs the container runs through its own \
                         root (--no-coverage leaves this out)"
                            .to_owned(),
                    ));
                }
                (!programs.is_empty()).then(|| {
                    coverage::of_root(
                        root.tree.clone(),
                        &programs,
                        &syscalls,
                        run_loads(&observation),
                        interrupt.as_ref(),
                        options.say,
                    )
                })
            }
            (None, None) => {
                let programs = scanned_programs(executable.as_deref(), &observation);
                (!programs.is_empty()).then(|| {
                    coverage::of(
                        &programs,
                        &syscalls,
                        run_loads(&observation),
                        interrupt.as_ref(),
                        options.say,
                    )
                })
            }
            (Some(run), _) => container_coverage(
                run,
                &observation,
                options.quiet,
                options.say,
                &mut guardian,
                interrupt.as_ref(),
            ),
        })
        .flatten();
    if let Some(coverage) = &coverage {
        warnings.extend(coverage.errors.iter().map(|e| format!("cannot scan {e}")));
        if let Some(signal) = coverage.interrupted {
            warnings.push(format!(
                "signal {signal} stopped the coverage scan: the coverage is incomplete (it \
                 counts only the programs scanned before it){}",
                if options.include_reachable {
                    ", and --include reachable added only what they reach"
                } else {
                    ""
                }
            ));
        }
    }
    // None of the programs could be scanned (said above): no coverage, not
    // a vacuous "0 of 0".
    coverage = coverage.filter(|c| !c.programs.is_empty());
    // With --include reachable: the default the learned values are widened
    // to, as it applies to the run, and its name.
    let mut widen_within: Option<(EffectivePolicy, String)> = None;
    if let Some(coverage) = coverage.as_mut().filter(|_| options.include_reachable) {
        let (baseline, context) = match (native_default, &container, &attached_root) {
            (Some(native), None, _) => (native.baseline.clone(), native.context.clone()),
            (None, None, Some(root)) => {
                let running = &root.container;
                engine_default(
                    running.engine,
                    Some(running.version.as_str()),
                    &running.cap_add,
                    &running.cap_drop,
                )?
            }
            _ => default_of_the_run(container.as_ref())?,
        };
        (stats.included_reachable, stats.withheld_reachable) = coverage::include_reachable(
            &mut syscalls,
            coverage,
            &baseline,
            &context,
            &options.include_risky,
        );
        widen_within = Some((baseline.evaluate(&context), baseline.name.clone()));
        coverage.included_within = Some(baseline.name);
    }
    stats.coverage = coverage.clone();
    // What the kernel and the program's runtime make by timing, triggered
    // by what was seen (`crate::implied`, rules in data/implied-syscalls.json).
    let implied = match options.no_implied {
        true => Implied::default(),
        false => implied::complete(arch, &syscalls, executable.as_slice()),
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

    // Where it was learned, in a tag `merge` keeps: an export for a
    // container adds the runtime's own calls to a native profile.
    let origin = match container.is_some() || runtime.is_some() {
        true => runtime_tail::Origin::Container,
        false => runtime_tail::Origin::Native,
    };
    let comment = options.comment.clone().unwrap_or_else(|| match &attached {
        Some(attached) => attached_comment(attached, runtime.as_ref()),
        None => default_comment(&command_words, runtime.as_ref()),
    });
    let comment = match origin.mark() {
        Some(mark) => format!("{comment} {mark}"),
        None => comment,
    };
    let values = rules::values_by_name(
        [&observation.arguments, &observation.runtime_arguments],
        runtime.as_ref().map(|r| &r.base_arguments),
    );
    let learning = Learning {
        arch,
        granularity: options.granularity,
        baseline: baseline.map(|b| &b.policy),
        baseline_name: baseline.map_or("", |b| b.name.as_str()),
        widening: widen_within.as_ref().map(|(policy, name)| Widening {
            policy,
            name,
            risky: &options.include_risky,
        }),
    };
    let mut learned = rules::learn(&learning, &syscalls, &values);
    stats.widened_reachable = learned.widened_reachable.clone();
    // A native command's syscalls by name against the default it would get
    // in a container (a container's were set against its engine's by
    // `learn`, values too).
    if let Some(native) = native_default.filter(|_| baseline.is_none()) {
        let default = native.baseline.evaluate(&native.context);
        let allowed = learned.allowed_names();
        learned
            .beyond_default
            .extend(rules::names_beyond(&default, allowed.iter()));
    }
    let default_name = match (baseline, native_default) {
        (Some(container), _) => container.name.clone(),
        (None, Some(native)) => format!(
            "{}, as a container would get it; --baseline names another",
            native.baseline.name
        ),
        (None, None) => String::new(),
    };
    if let Some(runtime) = &runtime
        && options.granularity == Granularity::Values
    {
        let workload = rules::values_by_name([&observation.arguments], None);
        learned.notes.extend(rules::runtime_only_values(
            &workload,
            &values,
            &runtime.name,
        ));
    }
    stats.learned = Some(stats::LearnedRules::of(&learned, options.granularity));
    let profile = learned.profile(arch, Some(comment));
    let (text, export_notes) = match &options.to {
        None => {
            let exported = export::as_recorded(&profile, options.complain);
            (exported.text, exported.notes)
        }
        Some((format, export_options)) => {
            let format = *format;
            // The default the run is set against is the one a rule may
            // be widened within.
            let within = match (baseline, native_default) {
                (Some(container), _) => Some(export::Within {
                    policy: container.policy.clone(),
                    name: container.title.clone(),
                }),
                (None, Some(native)) => Some(export::Within::of(&native.baseline, &native.context)),
                (None, None) => None,
            };
            let export_options = export::Options {
                output_path: options.output.clone(),
                within,
                complain: options.complain,
                ..export_options.clone()
            };
            let exported = export::export(&profile, format, &export_options).map_err(|source| {
                RecordError::Export {
                    to: crate::choice::Choice::name(format),
                    source,
                }
            })?;
            (exported.text, exported.notes)
        }
    };
    let written_to = match output {
        Some(output) => output.commit(&text)?,
        None => None,
    };
    if let Some(stats_output) = stats_output {
        stats_output.commit(&stats.to_text())?;
    }
    Ok(Recording {
        exit_code,
        observation,
        syscalls,
        profile,
        stats,
        written_to,
        warnings,
        runtime,
        implied,
        coverage,
        learned,
        outlived,
        default_name,
        export_notes,
        guardian,
    })
}

/// The engine's default for a container run, as it applies to the run's
/// capabilities (`--cap-add`, `--cap-drop`).
pub(super) struct ContainerBaseline {
    pub(super) name: String,
    /// The name without its source (`Docker's default profile`).
    pub(super) title: String,
    pub(super) policy: EffectivePolicy,
}

impl ContainerBaseline {
    /// Asked before the run: the engine's version picks its default, and a
    /// capability the engine would refuse is said before anything runs.
    pub(super) fn of(engine_run: &EngineRun) -> Result<ContainerBaseline, RecordError> {
        let (baseline, context) = default_of_the_run(Some(engine_run))?;
        Ok(ContainerBaseline::from(baseline, &context))
    }

    /// The default of a running container (`--attach`): its engine's, for
    /// the capabilities the engine says it was given.
    pub(super) fn of_running(running: &Running) -> Result<ContainerBaseline, RecordError> {
        let (baseline, context) = engine_default(
            running.engine,
            Some(running.version.as_str()),
            &running.cap_add,
            &running.cap_drop,
        )?;
        Ok(ContainerBaseline::from(baseline, &context))
    }

    fn from(baseline: Baseline, context: &DockerContext) -> ContainerBaseline {
        ContainerBaseline {
            policy: baseline.evaluate(context),
            title: baseline.title(),
            name: baseline.name,
        }
    }
}

/// The default a native command is set against: Docker's, or what
/// `--baseline` names, with the capabilities its engine gives.
pub(super) struct NativeDefault {
    pub(super) baseline: Baseline,
    pub(super) context: DockerContext,
    /// What reading a `--baseline FILE` had to say.
    pub(super) warnings: Vec<String>,
}

impl NativeDefault {
    pub(super) fn of(choice: Option<&BaselineChoice>) -> Result<NativeDefault, RecordError> {
        let (baseline, warnings) = match choice {
            Some(choice) => Baseline::choose(choice)?,
            None => (Baseline::docker_default(), Vec::new()),
        };
        let context = baseline.context(&[], &[])?;
        Ok(NativeDefault {
            baseline,
            context,
            warnings,
        })
    }
}

/// The executables of a native recording that can be scanned: the command,
/// and the programs it executed by an absolute path.
pub(super) fn scanned_programs(
    executable: Option<&std::path::Path>,
    observation: &Observation,
) -> Vec<PathBuf> {
    let Some(executable) = executable else {
        return Vec::new();
    };
    let mut programs = vec![executable.to_owned()];
    programs.extend(
        observation
            .events
            .all_executed()
            .map(|e| PathBuf::from(&e.filename))
            // Seen from here, /proc/self/exe (busybox re-executing itself)
            // and /dev/fd/N are the recorder's own files, not the program's.
            .filter(|p| {
                p.is_absolute() && !p.starts_with("/proc") && !p.starts_with("/dev") && p.is_file()
            }),
    );
    programs
}

/// The shared objects the run's processes loaded, for the coverage scan.
pub(super) fn run_loads(observation: &Observation) -> coverage::RunLoads<'_> {
    coverage::RunLoads {
        objects: &observation.events.loaded,
        lost: observation.events.loads_lost,
    }
}

/// The coverage of a container recording: the programs the container
/// executed, scanned inside its image (exported for it, under the run's
/// guardian, which meanwhile still removes the recorded container should
/// the tool be killed), against the syscalls the workload made after the
/// runtime's `execve`. None when the container ran no program (it failed
/// to start).
pub(super) fn container_coverage(
    run: &EngineRun,
    observation: &Observation,
    quiet: bool,
    say: notice::Sink,
    guardian: &mut Guardian,
    interrupt: Option<&session::interrupt::Interrupt>,
) -> Option<Coverage> {
    let executed: Vec<String> = observation
        .events
        .all_executed()
        .map(|e| e.filename.clone())
        .collect();
    let programs = coverage::container_programs(&executed);
    if programs.is_empty() {
        return None;
    }
    let image = run
        .run
        .image()
        .map(|i| i.to_string_lossy().into_owned())
        .unwrap_or_default();
    let engine = crate::scan::image::Engine {
        cli: run.cli.clone(),
        globals: run.global_args().to_vec(),
    };
    if !quiet {
        say(Notice::Note(format!(
            "coverage: scanning the programs the container ran inside the image {image} \
             (--no-coverage leaves this out)"
        )));
    }
    let observed = names_of(&observation.calls);
    let container = coverage::ContainerImage {
        engine: &engine,
        image: &image,
    };
    Some(coverage::of_container(
        &container,
        &programs,
        &observed,
        run_loads(observation),
        guardian,
        interrupt,
        say,
    ))
}

/// The default profile `--include reachable` adds within, and the
/// container it is evaluated for: the engine's default for the run's
/// engine (its version) and capabilities (`--cap-add`, `--cap-drop`);
/// Docker's default with its capabilities for a native command.
pub(super) fn default_of_the_run(
    container: Option<&EngineRun>,
) -> Result<(Baseline, DockerContext), RecordError> {
    let Some(run) = container else {
        return Ok((Baseline::docker_default(), DockerContext::host(&[], &[])?));
    };
    let values = |names: &[&str]| -> Vec<String> {
        run.run
            .find(names)
            .filter_map(|o| o.value.as_deref())
            // podman takes `--cap-add A,B`.
            .flat_map(|v| v.split(','))
            .map(str::to_owned)
            .collect()
    };
    engine_default(
        run.run.engine,
        run.version().as_deref(),
        &values(&["cap-add"]),
        &values(&["cap-drop"]),
    )
}

/// The default `engine` (at `version`) applies to a container given
/// `cap_add` and `cap_drop`.
fn engine_default(
    engine: Engine,
    version: Option<&str>,
    cap_add: &[String],
    cap_drop: &[String],
) -> Result<(Baseline, DockerContext), RecordError> {
    let baseline = Baseline::for_engine(engine, version);
    let context = baseline.context(cap_add, cap_drop)?;
    Ok((baseline, context))
}

/// What a container's runtime did after its filter install, and its base
/// set, merged into `syscalls`.
pub(super) fn runtime_report(
    options: &RecordOptions,
    engine: Engine,
    name: String,
    observation: &Observation,
    syscalls: &mut SyscallSet,
    warnings: &mut Vec<String>,
) -> RuntimeReport {
    let observed = names_of(&observation.runtime_calls);
    let (base, base_arguments) = if options.no_runtime_base {
        (SyscallSet::new(), Default::default())
    } else {
        match runtime_base::for_runtime(engine, &name) {
            Some(base) => (base.syscalls(), base.arguments().clone()),
            None => {
                warnings.push(format!(
                    "there is no base set for the runtime `{name}`: the profile holds only \
                     what the runtime did in this run after installing the filter, which \
                     varies from run to run; record several runs and merge them"
                ));
                (SyscallSet::new(), Default::default())
            }
        }
    };
    let added_by_base: SyscallSet = base.difference(syscalls).collect();
    for name in &added_by_base {
        syscalls.insert(name);
    }
    RuntimeReport {
        name,
        observed,
        base,
        added_by_base,
        base_arguments,
    }
}

/// The profile's comment: the recorded command (redacted), and the base set.
pub(super) fn default_comment(command_words: &[String], runtime: Option<&RuntimeReport>) -> String {
    let mut comment = format!(
        "syscalls observed while recording `{}`",
        command_words.join(" ")
    );
    if let Some(runtime) = runtime.filter(|r| !r.base.is_empty()) {
        comment.push_str(&format!(
            ", with the {} base set ({} syscalls the runtime makes after installing the filter)",
            runtime.name,
            runtime.base.len()
        ));
    }
    comment
}

/// The profile's comment for `--attach`: what and from when, and that
/// its start-up was not observed.
fn attached_comment(attached: &stats::Attachment, runtime: Option<&RuntimeReport>) -> String {
    let mut comment = format!(
        "syscalls observed in {} from {} on (attached: start-up not observed)",
        attached.target, attached.at
    );
    if let Some(runtime) = runtime.filter(|r| !r.base.is_empty()) {
        comment.push_str(&format!(
            ", with the {} base set ({} syscalls the runtime makes after installing the filter)",
            runtime.name,
            runtime.base.len()
        ));
    }
    comment
}

/// The names of counted numbers (those the tables know).
pub(super) fn names_of(calls: &std::collections::BTreeMap<(Arch, u64), u64>) -> SyscallSet {
    calls
        .keys()
        .filter_map(|&(arch, nr)| table::name_of(arch, nr))
        .collect()
}

/// Names the counted numbers and splits off those without a name.
pub(super) fn summarize(
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
        coverage: None,
        included_reachable: Vec::new(),
        withheld_reachable: Vec::new(),
        widened_reachable: Vec::new(),
        learned: None,
        attached: None,
        arguments: stats::arguments_of(&observation.arguments),
        runtime_arguments: stats::arguments_of(&observation.runtime_arguments),
    };
    (syscalls, stats)
}

/// Named counts sorted by name and table, and the numbers without a name.
pub(crate) fn count_entries(
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
pub(super) fn describe_gaps(stats: &Stats) -> Vec<String> {
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
    warnings.extend(stats::lost_arguments(stats));
    warnings
}

/// x32 syscalls are x86_64 numbers with bit 30 set.
pub(super) fn x32_hint(nr: i64) -> &'static str {
    const X32_SYSCALL_BIT: i64 = 0x4000_0000;
    if cfg!(target_arch = "x86_64") && nr & X32_SYSCALL_BIT != 0 && nr > 0 {
        ", an x32 number"
    } else {
        ""
    }
}
