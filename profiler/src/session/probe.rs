//! One probe's lifecycle, for every use of the kernel side: [`Probe::load`]
//! loads the object for a purpose and a cgroup tree (its globals set, each
//! map sized for the purpose, nothing attached), the use configures what
//! it must through the maps, [`Probe::start`] attaches the hooks the use
//! names in one order and with one fallback for the programs on every
//! syscall, and [`Probe::stop`] detaches them (as dropping the probe does
//! when it was not stopped). The uses keep only what is their own: which
//! programs they attach and how they read the maps (the counting program,
//! `record::tracer`; the denial watch, `enforce::denials`; the rare
//! events, [`super::events`]).

use aya::{
    Btf, Ebpf,
    maps::{Array, Map, MapError},
    programs::{
        BtfTracePoint, Program, ProgramError, RawTracePoint, TracePoint,
        raw_trace_point::RawTracePointLinkId, tp_btf::BtfTracePointLinkId,
        trace_point::TracePointLinkId,
    },
};

use profiler_common::{ANCESTRY_LEVELS, maps, programs};

use super::{
    ebpf::{self, CgroupTree, Purpose, TracerError, program_error},
    hook::Hook,
    layout::KernelTypes,
};

/// The eBPF object loaded for one purpose and one cgroup tree, and the
/// hooks it has attached.
pub(crate) struct Probe {
    ebpf: Ebpf,
    /// What the kernel's BTF gave the loader, or why the event hooks and
    /// the BTF tracepoints cannot work here.
    kernel: Result<KernelTypes, String>,
    /// The hooks attached, in the order they went on.
    attached: Vec<(&'static str, Link)>,
    /// Hooks of rare events that could not be attached, and why.
    unwatched: Vec<String>,
}

/// What a use attaches, in the order it goes on: the hooks of rare events
/// first, so that nothing is missed once the rest runs; then the raw
/// tracepoints it needs; then the programs on every syscall.
pub(crate) struct Hooks {
    /// Hooks of rare events, attached where the kernel's layout is known:
    /// one that cannot attach leaves what it watches unwatched (the user is
    /// told), and the run goes on without it.
    pub watched: Vec<Watched>,
    /// What is not watched where the kernel's layout is unknown (and none
    /// of `watched` is attached).
    pub without_layout: &'static str,
    /// Raw tracepoints that must attach: program, tracepoint.
    pub raw: Vec<(&'static str, &'static str)>,
    /// The programs on every syscall, if any.
    pub every_syscall: Option<EverySyscall>,
}

/// A hook of a rare event.
pub(crate) struct Watched {
    /// The raw tracepoint program, and its tracepoint.
    pub program: &'static str,
    pub tracepoint: &'static str,
    /// What is not watched when it cannot attach ("cannot watch for …").
    pub what: &'static str,
}

/// The programs on every syscall, each on its tracepoint of
/// `raw_syscalls`, in the order they go on, and the hook asked for.
pub(crate) struct EverySyscall {
    pub hook: Hook,
    pub programs: Vec<(HookPrograms, &'static str)>,
}

/// The programs of one purpose's hook on one tracepoint, by hook kind.
pub(crate) struct HookPrograms {
    pub raw: &'static str,
    /// `None`: the purpose has no classic tracepoint program (it takes the
    /// raw one).
    pub tracepoint: Option<&'static str>,
    pub btf: &'static str,
}

/// How the programs on every syscall are attached here: the hook asked
/// for, as the kernel allows it.
enum Attach {
    Raw,
    /// The classic tracepoint (counting only).
    Tracepoint,
    /// The BTF tracepoint, with the kernel's BTF it attaches by.
    Btf(Btf),
}

/// An attached hook, by the kind of program that holds it.
enum Link {
    Raw(RawTracePointLinkId),
    Tracepoint(TracePointLinkId),
    Btf(BtfTracePointLinkId),
}

impl Probe {
    /// Loads the eBPF object for `purpose` in the cgroup tree of `cgroup`,
    /// after checking the privileges it takes: its globals set, each map
    /// sized as the purpose uses it, nothing attached yet.
    pub(crate) fn load(purpose: Purpose, cgroup: CgroupTree) -> Result<Probe, TracerError> {
        let (ebpf, kernel) = ebpf::load_object(cgroup, purpose)?;
        Ok(Probe {
            ebpf,
            kernel,
            attached: Vec::new(),
            unwatched: Vec::new(),
        })
    }

    /// Map `name` of the object, or an error naming it.
    pub(crate) fn map(&self, name: &'static str) -> Result<&Map, TracerError> {
        self.ebpf.map(name).ok_or_else(|| missing_map(name))
    }

    /// Map `name` of the object, to configure, or an error naming it.
    pub(crate) fn map_mut(&mut self, name: &'static str) -> Result<&mut Map, TracerError> {
        self.ebpf.map_mut(name).ok_or_else(|| missing_map(name))
    }

    /// Why the kernel's layout is not known here (no kernel BTF, or a
    /// field missing from it), if it is not: the hooks that read kernel
    /// structures find nothing then.
    pub(crate) fn layout_unknown(&self) -> Option<&str> {
        self.kernel.as_ref().err().map(String::as_str)
    }

    /// Hooks of rare events that could not be attached, and why.
    pub(crate) fn unwatched(&self) -> &[String] {
        &self.unwatched
    }

    /// Attaches `hooks`, in their order. The hook on every syscall is
    /// chosen before anything is attached, in one fallback order for every
    /// purpose: `Auto` takes the BTF tracepoint where the kernel publishes
    /// its BTF and has the fields the programs read, else the raw
    /// tracepoint (which needs neither); the classic tracepoint where it is
    /// asked for and the purpose has programs for it (tracefs mounted
    /// first), else the raw one; a hook asked for by name that cannot work
    /// here is an error that says which to use instead. Returns the hook
    /// the programs on every syscall went on with (`None`: there are none).
    /// What is attached when an error comes is detached with the probe.
    pub(crate) fn start(&mut self, hooks: &Hooks) -> Result<Option<Hook>, TracerError> {
        let attach = match &hooks.every_syscall {
            Some(every) => Some(choose(every, &self.kernel)?),
            None => None,
        };
        if let Some(Attach::Tracepoint) = attach {
            ebpf::ensure_tracefs()?;
        }
        match &self.kernel {
            Err(why) => self
                .unwatched
                .push(format!("cannot watch for {}: {why}", hooks.without_layout)),
            Ok(_) => {
                for watched in &hooks.watched {
                    if let Err(e) = self.attach_raw(watched.program, watched.tracepoint) {
                        self.unwatched
                            .push(format!("cannot watch for {}: {e}", watched.what));
                    }
                }
            }
        }
        for &(program, tracepoint) in &hooks.raw {
            self.attach_raw(program, tracepoint)?;
        }
        let (Some(attach), Some(every)) = (attach, &hooks.every_syscall) else {
            return Ok(None);
        };
        for (programs, tracepoint) in &every.programs {
            match (&attach, programs.tracepoint) {
                (Attach::Btf(btf), _) => self.attach_btf(programs.btf, tracepoint, btf)?,
                (Attach::Tracepoint, Some(name)) => self.attach_tracepoint(name, tracepoint)?,
                (Attach::Raw | Attach::Tracepoint, _) => {
                    self.attach_raw(programs.raw, tracepoint)?
                }
            }
        }
        Ok(Some(match attach {
            Attach::Btf(_) => Hook::BtfTracepoint,
            Attach::Tracepoint => Hook::Tracepoint,
            Attach::Raw => Hook::RawTracepoint,
        }))
    }

    /// Whether `program`'s hook is attached.
    pub(crate) fn is_attached(&self, program: &str) -> bool {
        self.attached.iter().any(|(name, _)| *name == program)
    }

    /// Detaches `program`'s hook while the rest runs on. Returns whether it
    /// was attached.
    pub(crate) fn detach(&mut self, program: &'static str) -> Result<bool, TracerError> {
        let Some(at) = self.attached.iter().position(|(name, _)| *name == program) else {
            return Ok(false);
        };
        let (name, link) = self.attached.remove(at);
        self.detach_link(name, link)?;
        Ok(true)
    }

    /// Detaches every hook, the last attached first, and frees the object.
    pub(crate) fn stop(mut self) -> Result<(), TracerError> {
        self.detach_all()
    }

    /// Detaches every hook still attached, the last attached first; the
    /// first error, once all were tried.
    fn detach_all(&mut self) -> Result<(), TracerError> {
        let mut first = Ok(());
        while let Some((name, link)) = self.attached.pop() {
            if let Err(e) = self.detach_link(name, link) {
                first = first.and(Err(e));
            }
        }
        first
    }

    fn detach_link(&mut self, name: &'static str, link: Link) -> Result<(), TracerError> {
        let fail = |e| program_error(name, "detach", e);
        let program = self.program_mut(name)?;
        match link {
            Link::Raw(id) => <&mut RawTracePoint>::try_from(program)
                .map_err(fail)?
                .detach(id),
            Link::Tracepoint(id) => <&mut TracePoint>::try_from(program)
                .map_err(fail)?
                .detach(id),
            Link::Btf(id) => <&mut BtfTracePoint>::try_from(program)
                .map_err(fail)?
                .detach(id),
        }
        .map_err(fail)
    }

    /// Program `name` of the object, or an error naming it.
    fn program_mut(&mut self, name: &'static str) -> Result<&mut Program, TracerError> {
        self.ebpf.program_mut(name).ok_or(TracerError::Program {
            what: "find",
            program: name,
            source: ProgramError::UnexpectedProgramType,
        })
    }

    /// Loads the raw tracepoint program `name` and attaches it to
    /// `tracepoint`.
    fn attach_raw(&mut self, name: &'static str, tracepoint: &str) -> Result<(), TracerError> {
        let fail = |what| move |e| program_error(name, what, e);
        let p: &mut RawTracePoint = self.program_mut(name)?.try_into().map_err(fail("load"))?;
        p.load().map_err(fail("load"))?;
        let link = p.attach(tracepoint).map_err(fail("attach"))?;
        self.attached.push((name, Link::Raw(link)));
        Ok(())
    }

    /// Loads the classic tracepoint program `name` and attaches it to
    /// `tracepoint` of `raw_syscalls`.
    fn attach_tracepoint(
        &mut self,
        name: &'static str,
        tracepoint: &str,
    ) -> Result<(), TracerError> {
        let fail = |what| move |e| program_error(name, what, e);
        let p: &mut TracePoint = self.program_mut(name)?.try_into().map_err(fail("load"))?;
        p.load().map_err(fail("load"))?;
        let link = p
            .attach("raw_syscalls", tracepoint)
            .map_err(fail("attach"))?;
        self.attached.push((name, Link::Tracepoint(link)));
        Ok(())
    }

    /// Loads program `name` as a BTF tracepoint and attaches it to
    /// `tracepoint`, with the kernel's BTF `btf`.
    fn attach_btf(
        &mut self,
        name: &'static str,
        tracepoint: &str,
        btf: &Btf,
    ) -> Result<(), TracerError> {
        let fail = |what| move |e| program_error(name, what, e);
        let p: &mut BtfTracePoint = self.program_mut(name)?.try_into().map_err(fail("load"))?;
        p.load(tracepoint, btf).map_err(fail("load"))?;
        let link = p.attach().map_err(fail("attach"))?;
        self.attached.push((name, Link::Btf(link)));
        Ok(())
    }
}

impl Drop for Probe {
    /// A probe that was not stopped detaches its hooks all the same; what
    /// fails then is left to the object's own drop, which closes them.
    fn drop(&mut self) {
        let _ = self.detach_all();
    }
}

/// The ids of the cgroup `own` (this process's, by its id) and of its
/// ancestors in the whole cgroup2 tree, the root's first (index = the
/// kernel's level), as the kernel has them: the `own_ancestry` program,
/// attached to `sys_enter` for the tasks of that cgroup alone, writes them
/// on this process's next syscall (the map read below is one), and is
/// detached at once. Empty where this process is not in `own`.
pub(crate) fn ancestry(own: u64) -> Result<Vec<u64>, TracerError> {
    let purpose = Purpose::OwnAncestry { cgroup: own };
    let mut probe = Probe::load(purpose, CgroupTree { id: 0, level: 0 })?;
    probe.start(&Hooks {
        watched: Vec::new(),
        without_layout: "",
        raw: vec![(programs::OWN_ANCESTRY, "sys_enter")],
        every_syscall: None,
    })?;
    let map_error = |source| TracerError::Map {
        map: maps::ANCESTRY,
        source,
    };
    let ids = {
        let array: Array<_, u64> =
            Array::try_from(probe.map(maps::ANCESTRY)?).map_err(map_error)?;
        let mut ids = Vec::new();
        for level in 0..ANCESTRY_LEVELS {
            match array.get(&level, 0).map_err(map_error)? {
                0 => break,
                id => ids.push(id),
            }
        }
        ids
    };
    probe.stop()?;
    Ok(ids)
}

/// How the programs of `every` attach here: `every.hook` as the kernel
/// (what its BTF gave the loader, `kernel`) and the purpose's programs
/// allow it.
fn choose(
    every: &EverySyscall,
    kernel: &Result<KernelTypes, String>,
) -> Result<Attach, TracerError> {
    let classic = every
        .programs
        .iter()
        .all(|(programs, _)| programs.tracepoint.is_some());
    match (every.hook, kernel) {
        (Hook::Auto, Ok(kernel)) => Ok(kernel.tracepoint_btf().map_or(Attach::Raw, Attach::Btf)),
        (Hook::Auto, Err(_)) => Ok(Attach::Raw),
        (Hook::BtfTracepoint, Ok(kernel)) => Ok(Attach::Btf(
            kernel.tracepoint_btf().map_err(TracerError::Btf)?,
        )),
        (Hook::BtfTracepoint, Err(why)) => Err(TracerError::NoLayout {
            hook: "btf-tracepoint",
            why: why.clone(),
        }),
        (Hook::Tracepoint, _) if classic => Ok(Attach::Tracepoint),
        (Hook::Tracepoint | Hook::RawTracepoint | Hook::VerifierSelftest, _) => Ok(Attach::Raw),
    }
}

/// The error for a map the object lacks.
fn missing_map(name: &'static str) -> TracerError {
    TracerError::Map {
        map: name,
        source: MapError::InvalidName {
            name: name.to_owned(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::{Attach, EverySyscall, HookPrograms, choose};
    use crate::session::hook::Hook;

    fn every(hook: Hook, classic: bool) -> EverySyscall {
        EverySyscall {
            hook,
            programs: vec![(
                HookPrograms {
                    raw: "raw",
                    tracepoint: classic.then_some("classic"),
                    btf: "btf",
                },
                "sys_enter",
            )],
        }
    }

    /// Where the kernel's BTF cannot be read: `auto` takes the raw
    /// tracepoint, the BTF tracepoint asked for by name says what to use
    /// instead, and the classic tracepoint is taken only by a purpose that
    /// has programs for it.
    #[test]
    fn the_hook_falls_back_in_one_order() {
        let no_btf = Err("no BTF here".to_owned());
        let chosen = |hook, classic| choose(&every(hook, classic), &no_btf);
        assert!(matches!(chosen(Hook::Auto, true), Ok(Attach::Raw)));
        assert!(matches!(chosen(Hook::RawTracepoint, true), Ok(Attach::Raw)));
        assert!(matches!(
            chosen(Hook::Tracepoint, true),
            Ok(Attach::Tracepoint)
        ));
        assert!(matches!(chosen(Hook::Tracepoint, false), Ok(Attach::Raw)));
        assert!(matches!(
            chosen(Hook::VerifierSelftest, false),
            Ok(Attach::Raw)
        ));
        let Err(e) = chosen(Hook::BtfTracepoint, true) else {
            panic!("the BTF tracepoint without BTF is an error");
        };
        assert_eq!(
            e.to_string(),
            "the `btf-tracepoint` hook needs the offsets of a few kernel fields, which cannot be \
             read here (no BTF here); use `--hook raw-tracepoint`; run `syscall-profile \
             doctor` to see what works here"
        );
    }
}
