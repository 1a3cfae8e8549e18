//! `syscall-profile agent`: every container that runs on the node, recorded
//! from its first process by one in-kernel program keyed by container
//! ([`watch`]), named by its engine ([`identity`]), its replicas folded
//! into one profile per workload, written atomically when a container ends
//! and at every flush ([`store`]).
//!
//! Containers are found by their cgroup's path ([`layout`]): the kubelet's
//! (systemd and cgroupfs drivers), Docker's and podman's. Those that run
//! when the agent starts are recorded from then on and marked attached
//! (their start-up not observed). A container under a seccomp filter is
//! counted from the filter's install, as `record` counts it, so none of
//! its runtime's set-up before it enters the profile; the runtime's base
//! set is added, as `record` adds it.

pub(crate) mod identity;
pub(crate) mod layout;
pub(crate) mod store;
pub(crate) mod watch;

use std::{
    collections::{BTreeMap, BTreeSet},
    os::unix::fs::MetadataExt,
    path::{Path, PathBuf},
    time::{Duration, Instant, SystemTime},
};

use self::{
    identity::Workload,
    layout::ContainerCgroup,
    store::{LiveReplica, StoreError, WorkloadState},
    watch::{SlotCounts, Watch},
};
use crate::{
    baseline::{Baseline, BaselineError},
    engine::{Engine, EngineCli, EngineError, inspect::Running, runtime_base},
    export::{self, ExportError, Format, runtime_tail},
    implied,
    profile::{Arch, SyscallSet, table},
    session::{self, CgroupError, ebpf::TracerError, hook::Hook},
    syscall_args::rules::{self, Granularity, Learning},
};

/// How often the kernel side is looked at: new cgroups taken or let go,
/// ended ones read.
const POLL: Duration = Duration::from_millis(50);

/// How long a new container's engine is asked for its name before the
/// container is given up (its calls are then in no profile, and said).
const NAMING_LIMIT: Duration = Duration::from_secs(10);

/// How long an engine that did not answer is left alone before it is asked
/// again.
const ENGINE_RETRY: Duration = Duration::from_secs(1);

/// An engine's CLI and version, or why it did not answer and when.
type EngineAnswer = Result<(EngineCli, String), (String, Instant)>;

/// The id of the root of the whole cgroup tree (its inode number).
const ROOT_CGROUP_ID: u64 = 1;

/// The deepest cgroup looked at when the agent starts.
const SCAN_DEPTH: usize = 10;

/// The format the profiles are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AgentFormat {
    /// Docker's seccomp JSON, as `record` writes it (`STEM.json`).
    Docker,
    /// The Security Profiles Operator's `SeccompProfile` (`STEM.yaml`).
    Kubernetes,
}

/// What the agent is asked to do.
#[derive(Debug, Clone)]
pub(crate) struct AgentOptions {
    pub(crate) output: PathBuf,
    pub(crate) to: AgentFormat,
    /// Only containers with every one of these labels.
    pub(crate) select: Vec<(String, String)>,
    /// How often the profiles of the running containers are written.
    pub(crate) flush: Duration,
    /// Ends the agent after this long (else a signal ends it).
    pub(crate) duration: Option<Duration>,
    pub(crate) hook: Hook,
}

/// What happens, as it happens: the CLI says it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AgentEvent {
    /// Counting, with this hook; `running` containers were found already
    /// running (recorded from now on: attached), `resumed` workloads read
    /// back from the output directory.
    Started {
        hook: Hook,
        running: usize,
        resumed: usize,
    },
    /// A container is recorded, as a replica of `workload`.
    Recording {
        container: String,
        workload: String,
        attached: bool,
    },
    /// A container is not recorded: why.
    Skipped { container: String, why: String },
    /// A container ended; its workload's files were written.
    Ended {
        container: String,
        workload: String,
        written: Vec<PathBuf>,
    },
    /// The profiles of the running containers were written.
    Flushed { written: Vec<PathBuf> },
    /// Something the user should know.
    Warning(String),
}

/// How the agent ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AgentSummary {
    /// Containers recorded, and workloads written.
    pub(crate) containers: usize,
    pub(crate) workloads: usize,
    /// What ended it: `--duration`, or the signal's number.
    pub(crate) signal: Option<i32>,
}

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error(
        "the agent needs the kernel's BTF to read cgroups and tasks: {0} (run `syscall-profile \
         record` of one workload instead)"
    )]
    Kernel(#[source] TracerError),
    #[error(transparent)]
    Tracer(#[from] TracerError),
    #[error(transparent)]
    Cgroup(#[from] CgroupError),
    #[error(
        "the cgroup2 mount {} is not the root of the host's cgroup tree (this process is in \
         a cgroup namespace of its own): the agent must see every container's cgroup; mount \
         the host's /sys/fs/cgroup (a hostPath volume in a pod)",
        .mount.display()
    )]
    NotWholeTree { mount: PathBuf },
    #[error("{} is not a directory the agent can write its profiles in: {why}", .dir.display())]
    Output { dir: PathBuf, why: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot catch signals: {0}")]
    Signals(#[source] std::io::Error),
    #[error("this host's architecture has no syscall table here")]
    Arch,
}

/// A container being recorded.
struct Live {
    engine: Engine,
    id: String,
    slot: u32,
    cgroups: BTreeSet<u64>,
    attached: bool,
    found: Instant,
    /// Its engine's description and workload, once the engine answered.
    named: Option<(Running, Workload, String)>,
    /// Its calls counted by an earlier run of the agent (read back).
    earlier: BTreeMap<String, u64>,
}

impl Live {
    fn short(&self) -> String {
        let id: String = self.id.chars().take(12).collect();
        match &self.named {
            Some((running, _, _)) if !running.name.is_empty() && running.name != self.id => {
                format!("{} container {} ({id})", self.engine.name(), running.name)
            }
            _ => format!("{} container {id}", self.engine.name()),
        }
    }
}

/// The agent's run.
struct Agent<'a> {
    options: &'a AgentOptions,
    arch: Arch,
    /// Containers by slot.
    live: BTreeMap<u32, Live>,
    /// The slot of each watched cgroup.
    slot_of: BTreeMap<u64, u32>,
    /// Slots let go at the last poll, freed at the next.
    quarantine: Vec<u32>,
    /// Workload states by stem.
    states: BTreeMap<String, WorkloadState>,
    /// Stems whose files are behind their state.
    dirty: BTreeSet<String>,
    /// Each engine's CLI and version once it answered, or why it did not
    /// and when (asked again after [`ENGINE_RETRY`]: a daemon restarting
    /// is not given up for the agent's lifetime).
    engines: BTreeMap<&'static str, EngineAnswer>,
    /// The tool's own cgroup, never recorded.
    own_cgroup: Option<PathBuf>,
    recorded: usize,
    say: &'a mut dyn FnMut(AgentEvent),
}

/// Runs the agent until `--duration` or a signal.
pub(crate) fn run(
    options: &AgentOptions,
    say: &mut dyn FnMut(AgentEvent),
) -> Result<AgentSummary, AgentError> {
    let arch = Arch::host().ok_or(AgentError::Arch)?;
    check_output(&options.output)?;
    let states = store::load(&options.output)?;
    let mount = session::cgroup::cgroup2_mount()?;
    // Containers are found by their paths from the root of the whole
    // tree, as the kernel gives them: a cgroup namespace's view is not it.
    if std::fs::metadata(&mount).map(|m| m.ino()).ok() != Some(ROOT_CGROUP_ID) {
        return Err(AgentError::NotWholeTree { mount });
    }
    let interrupt = session::interrupt::Interrupt::catch().map_err(AgentError::Signals)?;
    let mut agent = Agent {
        options,
        arch,
        live: BTreeMap::new(),
        slot_of: BTreeMap::new(),
        quarantine: Vec::new(),
        states,
        dirty: BTreeSet::new(),
        engines: BTreeMap::new(),
        // From the whole tree's root, as the paths compared with it: in a
        // pod's cgroup namespace, /proc/self/cgroup says `/`.
        own_cgroup: session::cgroup::cgroup_in_whole_tree(&mount, std::process::id()),
        recorded: 0,
        say,
    };
    if agent.own_cgroup.is_none() {
        (agent.say)(AgentEvent::Warning(format!(
            "cannot tell this agent's own cgroup (no cgroup under {} lists its process): if it \
             runs in a container, that container is recorded too",
            mount.display()
        )));
    }
    let resumed = agent.states.len();
    // The containers already running are registered before the counting
    // starts, and again after it (those made in between).
    let mut found = Vec::new();
    let mut watch = Watch::start(options.hook, arch, |watch| {
        found = agent.scan(watch, &mount)?;
        Ok(())
    })
    .map_err(|e| match e {
        e @ TracerError::NoLayout { .. } => AgentError::Kernel(e),
        e => AgentError::Tracer(e),
    })?;
    let mut running = found.len();
    running += agent.scan(&mut watch, &mount)?.len();
    (agent.say)(AgentEvent::Started {
        hook: watch.hook,
        running,
        resumed,
    });
    agent.resume_ended();
    let started = Instant::now();
    let mut last_flush = Instant::now();
    let mut lost = watch::Lost::default();
    let signal = loop {
        if let Some(signal) = interrupt.signal() {
            break Some(signal);
        }
        if options.duration.is_some_and(|d| started.elapsed() >= d) {
            break None;
        }
        agent.poll(&mut watch)?;
        let now_lost = watch.lost()?;
        if now_lost != lost {
            agent.say_lost(&lost, &now_lost);
            lost = now_lost;
        }
        if last_flush.elapsed() >= options.flush {
            last_flush = Instant::now();
            let written = agent.flush(&watch)?;
            if !written.is_empty() {
                (agent.say)(AgentEvent::Flushed { written });
            }
        }
        std::thread::sleep(POLL);
    };
    // What ended meanwhile is folded in; what runs is written as alive.
    agent.poll(&mut watch)?;
    let written = agent.flush(&watch)?;
    if !written.is_empty() {
        (agent.say)(AgentEvent::Flushed { written });
    }
    watch.stop()?;
    Ok(AgentSummary {
        containers: agent.recorded,
        workloads: agent.states.len(),
        signal,
    })
}

/// The output directory must be a directory the agent can write in: said
/// before anything is loaded.
fn check_output(dir: &Path) -> Result<(), AgentError> {
    let bad = |why: &str| AgentError::Output {
        dir: dir.to_owned(),
        why: why.to_owned(),
    };
    let meta = std::fs::symlink_metadata(dir).map_err(|e| bad(&e.to_string()))?;
    if !meta.is_dir() {
        return Err(bad("it is not a directory (make it first)"));
    }
    let probe = dir.join(".syscall-profile-agent-check");
    crate::output::Output::prepare(Some(&probe))
        .map(drop)
        .map_err(|e| bad(&e.to_string()))
}

impl Agent<'_> {
    /// Registers every container cgroup of the tree not yet watched, with
    /// the cgroups below it in its slot: the containers already running.
    fn scan(&mut self, watch: &mut Watch, mount: &Path) -> Result<Vec<String>, TracerError> {
        let mut found = Vec::new();
        let mut stack: Vec<(PathBuf, usize)> = vec![(mount.to_owned(), 0)];
        let mut containers: Vec<(PathBuf, ContainerCgroup)> = Vec::new();
        while let Some((dir, depth)) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                if !entry.file_type().is_ok_and(|t| t.is_dir()) {
                    continue;
                }
                let path = entry.path();
                let relative = format!("/{}", path.strip_prefix(mount).unwrap_or(&path).display());
                match layout::container_of(&relative) {
                    Some(container) if !self.is_own(&relative) => {
                        containers.push((path, container))
                    }
                    _ if depth < SCAN_DEPTH => stack.push((path, depth + 1)),
                    _ => {}
                }
            }
        }
        for (path, container) in containers {
            let Ok(meta) = std::fs::metadata(&path) else {
                continue;
            };
            let id = meta.ino();
            if self.slot_of.contains_key(&id) {
                continue;
            }
            let Some(slot) = watch.register(id, None)? else {
                (self.say)(AgentEvent::Skipped {
                    container: container.id.chars().take(12).collect(),
                    why: "no slot is free (the agent counts 256 containers at once)".into(),
                });
                continue;
            };
            let mut cgroups = BTreeSet::from([id]);
            for below in cgroups_below(&path) {
                if watch.register(below, Some(slot))?.is_some() {
                    cgroups.insert(below);
                }
            }
            for &cgroup in &cgroups {
                self.slot_of.insert(cgroup, slot);
            }
            found.push(container.id.clone());
            self.live.insert(
                slot,
                Live {
                    engine: container.engine,
                    id: container.id,
                    slot,
                    cgroups,
                    attached: true,
                    found: Instant::now(),
                    named: None,
                    earlier: BTreeMap::new(),
                },
            );
        }
        Ok(found)
    }

    /// Whether `path` (from the cgroup2 root) is the tool's own cgroup or
    /// above it.
    fn is_own(&self, path: &str) -> bool {
        self.own_cgroup
            .as_ref()
            .is_some_and(|own| own.starts_with(path))
    }

    /// One look at the kernel side: new cgroups taken or let go, ended ones
    /// read and folded, new containers named.
    fn poll(&mut self, watch: &mut Watch) -> Result<(), AgentError> {
        for slot in std::mem::take(&mut self.quarantine) {
            watch.free(slot)?;
        }
        for new in watch.new_cgroups()? {
            if new.inherited {
                match self.live.get_mut(&new.slot) {
                    Some(live) => {
                        live.cgroups.insert(new.id);
                        self.slot_of.insert(new.id, new.slot);
                    }
                    None => watch.forget(new.id)?,
                }
                continue;
            }
            match layout::container_of(&new.path).filter(|_| !self.is_own(&new.path)) {
                Some(container) => {
                    watch.keep(new.id, new.slot)?;
                    self.slot_of.insert(new.id, new.slot);
                    self.live.insert(
                        new.slot,
                        Live {
                            engine: container.engine,
                            id: container.id,
                            slot: new.slot,
                            cgroups: BTreeSet::from([new.id]),
                            attached: false,
                            found: Instant::now(),
                            named: None,
                            earlier: BTreeMap::new(),
                        },
                    );
                }
                None => {
                    watch.forget(new.id)?;
                    self.quarantine.push(new.slot);
                }
            }
        }
        self.name_new(watch)?;
        for (id, slot) in watch.ended()? {
            watch.forget(id)?;
            self.slot_of.remove(&id);
            let Some(live) = self.live.get_mut(&slot) else {
                continue;
            };
            live.cgroups.remove(&id);
            if live.cgroups.is_empty()
                && let Some(live) = self.live.remove(&slot)
            {
                self.end(watch, live)?;
            }
        }
        Ok(())
    }

    /// Asks the engines to name the containers found since: each is kept
    /// as a replica of its workload, or let go (a pod's sandbox, one not
    /// selected, one its engine never names).
    fn name_new(&mut self, watch: &mut Watch) -> Result<(), AgentError> {
        let unnamed: Vec<u32> = self
            .live
            .iter()
            .filter(|(_, l)| l.named.is_none())
            .map(|(&slot, _)| slot)
            .collect();
        for slot in unnamed {
            let Some(live) = self.live.get(&slot) else {
                continue;
            };
            let (engine, id, found) = (live.engine, live.id.clone(), live.found);
            let described = self.describe(engine, &id);
            let why_not = match described {
                Ok(running) => match Workload::of(&running) {
                    None => Some("a pod's sandbox (the kubelet's pause container)".to_owned()),
                    Some(_) if !identity::selected(&running.labels, &self.options.select) => {
                        Some("not selected by --select".to_owned())
                    }
                    Some(workload) => {
                        self.adopt(slot, running, workload);
                        None
                    }
                },
                Err(_) if found.elapsed() < NAMING_LIMIT => continue,
                Err(e) => Some(format!(
                    "its engine did not name it within {} s: {e}",
                    NAMING_LIMIT.as_secs()
                )),
            };
            if let Some(why) = why_not
                && let Some(live) = self.live.remove(&slot)
            {
                for cgroup in &live.cgroups {
                    watch.forget(*cgroup)?;
                    self.slot_of.remove(cgroup);
                }
                self.quarantine.push(slot);
                (self.say)(AgentEvent::Skipped {
                    container: live.short(),
                    why,
                });
            }
        }
        Ok(())
    }

    /// Keeps the container in `slot` as a replica of `workload`.
    fn adopt(&mut self, slot: u32, running: Running, workload: Workload) {
        let stem = self.stem_for(&workload);
        let now = now();
        let state = self
            .states
            .entry(stem.clone())
            .or_insert_with(|| WorkloadState {
                workload: workload.clone(),
                engine_version: running.version.clone(),
                runtime: running.runtime.clone(),
                cap_add: running.cap_add.clone(),
                cap_drop: running.cap_drop.clone(),
                filtered: false,
                first_seen: now.clone(),
                updated: now,
                replicas: 0,
                attached: 0,
                syscalls: BTreeMap::new(),
                live: BTreeMap::new(),
            });
        let Some(live) = self.live.get_mut(&slot) else {
            return;
        };
        // A replica an earlier run wrote as alive goes on from its counts.
        if let Some(earlier) = state.live.remove(&live.id) {
            live.earlier = earlier.syscalls;
            live.attached = earlier.attached;
        }
        self.recorded += 1;
        (self.say)(AgentEvent::Recording {
            container: {
                live.named = Some((running, workload.clone(), stem.clone()));
                live.short()
            },
            workload: workload.display(),
            attached: live.attached,
        });
    }

    /// The stem of `workload`'s files: its own, or with its image's tag
    /// where another image of the same names has it.
    fn stem_for(&self, workload: &Workload) -> String {
        let stem = workload.stem();
        match self.states.get(&stem) {
            Some(state) if state.workload != *workload => {
                format!("{stem}_{}", workload.image_tag())
            }
            _ => stem,
        }
    }

    /// `engine`'s description of container `id`.
    fn describe(&mut self, engine: Engine, id: &str) -> Result<Running, String> {
        if let Some(Err((_, at))) = self.engines.get(engine.name())
            && at.elapsed() >= ENGINE_RETRY
        {
            self.engines.remove(engine.name());
        }
        let cli = self
            .engines
            .entry(engine.name())
            .or_insert_with(|| {
                let globals = match engine {
                    Engine::Containerd => crate::engine::inspect::ctr_namespace(CRI_NAMESPACE),
                    _ => Vec::new(),
                };
                let failed = |e: String| (e, Instant::now());
                let cli = EngineCli::find(engine, globals).map_err(|e| failed(e.to_string()))?;
                let version = cli.reachable().map_err(|e| failed(e.to_string()))?;
                Ok((cli, version))
            })
            .clone()
            .map_err(|(why, _)| why)?;
        let (cli, version) = cli;
        match cli.describe(id, &version) {
            Ok(running) => Ok(running),
            // Not the kubelet's: containerd's other namespaces.
            Err(EngineError::NoSuchContainer { .. }) if engine == Engine::Containerd => {
                describe_in_any_namespace(id, &version).map_err(|e| e.to_string())
            }
            Err(e) => Err(e.to_string()),
        }
    }

    /// A container ended: its counts folded into its workload, whose files
    /// are written; its slot freed at the next poll.
    fn end(&mut self, watch: &mut Watch, live: Live) -> Result<(), AgentError> {
        let counts = watch.counts(live.slot)?;
        self.quarantine.push(live.slot);
        let Some((_, workload, stem)) = &live.named else {
            (self.say)(AgentEvent::Warning(format!(
                "{} ended before its engine named it: its calls are in no profile",
                live.short()
            )));
            return Ok(());
        };
        let (filtered, syscalls) = self.names(&counts, &live.earlier);
        let Some(state) = self.states.get_mut(stem) else {
            return Ok(());
        };
        state.filtered |= filtered;
        state.live.remove(&live.id);
        state.end_replica(&syscalls, live.attached);
        state.updated = now();
        let written = self.write(stem)?;
        (self.say)(AgentEvent::Ended {
            container: live.short(),
            workload: workload.display(),
            written,
        });
        Ok(())
    }

    /// The syscalls of a slot by name, with an earlier run's: those of its
    /// tasks under a seccomp filter where there are any (the filter's
    /// boundary), else all. Returns whether it was under a filter.
    fn names(
        &self,
        counts: &SlotCounts,
        earlier: &BTreeMap<String, u64>,
    ) -> (bool, BTreeMap<String, u64>) {
        let filtered = !counts.filtered.is_empty();
        let mut out = earlier.clone();
        let mut add = |calls: &BTreeMap<(Arch, u64), u64>| {
            for (&(arch, nr), &n) in calls {
                if let Some(name) = table::name_of(arch, nr) {
                    *out.entry(name.to_owned()).or_default() += n;
                }
            }
        };
        add(&counts.filtered);
        if !filtered {
            add(&counts.unfiltered);
        }
        (filtered, out)
    }

    /// Writes every running container's workload with its counts so far,
    /// and the workloads behind their state.
    fn flush(&mut self, watch: &Watch) -> Result<Vec<PathBuf>, AgentError> {
        let mut updates = Vec::new();
        for live in self.live.values() {
            let Some((_, _, stem)) = &live.named else {
                continue;
            };
            let counts = watch.counts(live.slot)?;
            let (filtered, syscalls) = self.names(&counts, &live.earlier);
            updates.push((
                stem.clone(),
                live.id.clone(),
                live.attached,
                filtered,
                syscalls,
            ));
        }
        for (stem, id, attached, filtered, syscalls) in updates {
            let Some(state) = self.states.get_mut(&stem) else {
                continue;
            };
            let replica = LiveReplica { attached, syscalls };
            if state.live.get(&id) != Some(&replica) {
                state.filtered |= filtered;
                state.live.insert(id, replica);
                state.updated = now();
                self.dirty.insert(stem);
            }
        }
        let mut written = Vec::new();
        for stem in std::mem::take(&mut self.dirty) {
            written.extend(self.write(&stem)?);
        }
        Ok(written)
    }

    /// Replicas an earlier run wrote as alive that do not run now: ended
    /// while the agent was not there, folded in as such.
    fn resume_ended(&mut self) {
        let running: BTreeSet<&str> = self.live.values().map(|l| l.id.as_str()).collect();
        for (stem, state) in &mut self.states {
            let gone: Vec<String> = state
                .live
                .keys()
                .filter(|id| !running.contains(id.as_str()))
                .cloned()
                .collect();
            for id in gone {
                if let Some(replica) = state.live.remove(&id) {
                    state.end_replica(&replica.syscalls, replica.attached);
                    self.dirty.insert(stem.clone());
                }
            }
        }
    }

    /// Writes `stem`'s profile and state.
    fn write(&mut self, stem: &str) -> Result<Vec<PathBuf>, AgentError> {
        let Some(state) = self.states.get(stem) else {
            return Ok(Vec::new());
        };
        let (text, extension, warnings) =
            match profile_text(state, stem, self.arch, self.options.to) {
                Ok(made) => made,
                Err(e) => {
                    (self.say)(AgentEvent::Warning(format!(
                        "cannot write the profile of {}: {e}; its state is kept",
                        state.workload.display()
                    )));
                    return Ok(vec![store::write_state(&self.options.output, stem, state)?]);
                }
            };
        for warning in warnings {
            (self.say)(AgentEvent::Warning(warning));
        }
        Ok(store::write(
            &self.options.output,
            stem,
            state,
            (&text, extension),
        )?)
    }

    fn say_lost(&mut self, before: &watch::Lost, now: &watch::Lost) {
        if now.no_slot > before.no_slot {
            (self.say)(AgentEvent::Warning(format!(
                "{} cgroups made while every one of the agent's {} slots was in use were not \
                 recorded",
                now.no_slot - before.no_slot,
                profiler_common::agent::SLOTS
            )));
        }
        if now.no_place > before.no_place || now.untold > before.untold {
            (self.say)(AgentEvent::Warning(format!(
                "{} cgroups made or removed could not be kept track of (the agent's index or \
                 its queue was full): a container among them is not recorded, or its end is \
                 written only when the agent stops",
                (now.no_place - before.no_place) + (now.untold - before.untold)
            )));
        }
    }
}

/// The kubelet's containerd namespace.
const CRI_NAMESPACE: &str = "k8s.io";

/// Container `id` in whichever of containerd's namespaces has it.
fn describe_in_any_namespace(id: &str, version: &str) -> Result<Running, EngineError> {
    let cli = EngineCli::find(Engine::Containerd, Vec::new())?;
    let namespaces = cli.query(["namespaces", "ls", "-q"])?;
    let mut last = EngineError::NoSuchContainer {
        engine: Engine::Containerd.name(),
        name: id.to_owned(),
    };
    for namespace in namespaces.lines().map(str::trim).filter(|n| !n.is_empty()) {
        let cli = EngineCli::find(
            Engine::Containerd,
            crate::engine::inspect::ctr_namespace(namespace),
        )?;
        match cli.describe(id, version) {
            Ok(running) => return Ok(running),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// The ids of the cgroups below `dir`.
fn cgroups_below(dir: &Path) -> Vec<u64> {
    let mut out = Vec::new();
    let mut stack = vec![(dir.to_owned(), 0)];
    while let Some((dir, depth)) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir())
                && let Ok(meta) = entry.metadata()
            {
                out.push(meta.ino());
                if depth < SCAN_DEPTH {
                    stack.push((entry.path(), depth + 1));
                }
            }
        }
    }
    out
}

fn now() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}

/// Why a workload's profile cannot be made.
#[derive(Debug, thiserror::Error)]
enum ProfileError {
    #[error(transparent)]
    Baseline(#[from] BaselineError),
    #[error(transparent)]
    Export(#[from] ExportError),
}

/// `state`'s profile, in `to`'s format, with its file extension and what
/// the user should know of it.
fn profile_text(
    state: &WorkloadState,
    stem: &str,
    arch: Arch,
    to: AgentFormat,
) -> Result<(String, &'static str, Vec<String>), ProfileError> {
    let merged = state.merged();
    let mut syscalls: SyscallSet = merged.keys().map(String::as_str).collect();
    let mut warnings = Vec::new();
    let engine = Engine::from_name(&state.workload.engine).unwrap_or(Engine::Docker);
    let runtime = state.runtime.clone().unwrap_or_else(|| "runc".to_owned());
    let base = state
        .filtered
        .then(|| runtime_base::for_runtime(engine, &runtime))
        .flatten();
    if let Some(base) = &base {
        for name in base.syscalls().iter() {
            syscalls.insert(name);
        }
    }
    for added in implied::complete(arch, &syscalls, &[]).added {
        syscalls.insert(added.name.as_str());
    }
    let baseline = Baseline::for_engine(engine, Some(&state.engine_version));
    let context = baseline.context(&state.cap_add, &state.cap_drop)?;
    let policy = baseline.evaluate(&context);
    let learning = Learning {
        arch,
        granularity: Granularity::Baseline,
        baseline: Some(&policy),
        baseline_name: &baseline.name,
        widening: None,
    };
    let learned = rules::learn(&learning, &syscalls, &BTreeMap::new());
    let (replicas, attached) = state.replica_counts();
    let mut comment = format!(
        "syscalls of {} recorded by the agent from {}: {replicas} replica{}",
        state.workload.display(),
        state.first_seen,
        if replicas == 1 { "" } else { "s" },
    );
    if attached > 0 {
        comment.push_str(&format!(
            " ({attached} attached: start-up not observed; merge a recording of the start)"
        ));
    }
    if let Some(base) = &base {
        comment.push_str(&format!(
            ", with the {runtime} base set ({} syscalls the runtime makes after installing \
             the filter)",
            base.syscalls().len()
        ));
    }
    if let Some(mark) = runtime_tail::Origin::Container.mark() {
        comment.push_str(&format!(" {mark}"));
    }
    let profile = learned.profile(arch, Some(comment));
    if syscalls.iter().any(|n| !table::libseccomp_knows(arch, n)) {
        warnings.push(format!(
            "the profile of {} names syscalls the libseccomp on this host does not know",
            state.workload.display()
        ));
    }
    match to {
        AgentFormat::Docker => Ok((export::as_recorded(&profile, false).text, "json", warnings)),
        AgentFormat::Kubernetes => {
            let options = export::Options {
                name: Some(state.workload.resource_name(stem)),
                namespace: state
                    .workload
                    .container
                    .as_ref()
                    .and(state.workload.namespace.clone()),
                within: Some(export::Within::of(&baseline, &context)),
                ..export::Options::default()
            };
            let exported = export::export(&profile, Format::Kubernetes, &options)?;
            Ok((exported.text, "yaml", warnings))
        }
    }
}
