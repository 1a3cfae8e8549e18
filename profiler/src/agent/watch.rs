//! The agent's kernel side, as user space drives it: one probe that counts
//! every watched cgroup's syscalls in its slot (`profiler-ebpf/src/agent.rs`
//! says how), and the bookkeeping only user space can do: taking a new
//! cgroup for a container or letting it go, registering the containers
//! that ran before the agent, reading a slot and freeing it.

use std::collections::BTreeMap;

use aya::maps::{Array, HashMap, MapData, MapError, Queue};
use profiler_common::{
    Abi, AgentCounts, AgentNew,
    agent::{self, flags, lost},
    maps, programs,
};

use crate::{
    profile::Arch,
    session::{
        CgroupTree,
        ebpf::{Purpose, TracerError},
        hook::Hook,
        probe::{EverySyscall, HookPrograms, Hooks, Probe},
    },
};

/// A cgroup made on the host since the last look.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NewCgroup {
    pub(crate) id: u64,
    pub(crate) parent: u64,
    pub(crate) slot: u32,
    /// Counted in its parent's slot (the parent is a container's).
    pub(crate) inherited: bool,
    /// From the cgroup2 root, as the kernel has it (`/system.slice/x`).
    pub(crate) path: String,
}

/// What a slot counted, by whether the task was under a seccomp filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SlotCounts {
    /// Calls by table and number of tasks under a seccomp filter.
    pub(crate) filtered: BTreeMap<(Arch, u64), u64>,
    /// The same of tasks under none.
    pub(crate) unfiltered: BTreeMap<(Arch, u64), u64>,
    /// Calls with a number outside the tables.
    pub(crate) out_of_range: u64,
}

/// What the kernel side could not keep, since the start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Lost {
    /// Cgroups made while every slot was in use: not counted.
    pub(crate) no_slot: u64,
    /// Cgroups whose two index places were taken: not counted.
    pub(crate) no_place: u64,
    /// Cgroups made or removed that were not told (a full map).
    pub(crate) untold: u64,
}

/// The agent's probe, attached.
pub(crate) struct Watch {
    probe: Probe,
    arch: Arch,
    /// The hook the counting went on with.
    pub(crate) hook: Hook,
}

fn map_err(map: &'static str) -> impl Fn(MapError) -> TracerError {
    move |source| TracerError::Map { map, source }
}

impl Watch {
    /// Loads the agent's programs, gives the kernel every slot, and
    /// attaches: the `mkdir` and `rmdir` hooks first (so that no container
    /// made from then on is missed), then the counting on every syscall.
    /// `before_counting` runs between the two: the place to register the
    /// containers already running.
    pub(crate) fn start(
        hook: Hook,
        arch: Arch,
        before_counting: impl FnOnce(&mut Watch) -> Result<(), TracerError>,
    ) -> Result<Watch, TracerError> {
        let mut probe = Probe::load(Purpose::Agent, CgroupTree { id: 0, level: 0 })?;
        if let Some(why) = probe.layout_unknown() {
            return Err(TracerError::NoLayout {
                hook: "agent",
                why: why.to_owned(),
            });
        }
        {
            let mut free: Queue<_, u32> = Queue::try_from(probe.map_mut(maps::AGENT_FREE)?)
                .map_err(map_err(maps::AGENT_FREE))?;
            for slot in 0..agent::SLOTS {
                free.push(slot, 0).map_err(map_err(maps::AGENT_FREE))?;
            }
        }
        probe.start(&Hooks {
            watched: Vec::new(),
            without_layout: "",
            raw: vec![
                (programs::AGENT_MKDIR, "cgroup_mkdir"),
                (programs::AGENT_RMDIR, "cgroup_rmdir"),
            ],
            every_syscall: None,
        })?;
        let mut watch = Watch {
            probe,
            arch,
            hook: Hook::Auto,
        };
        before_counting(&mut watch)?;
        let used = watch.probe.start(&Hooks {
            watched: Vec::new(),
            without_layout: "",
            raw: Vec::new(),
            every_syscall: Some(EverySyscall {
                hook,
                programs: vec![(
                    HookPrograms {
                        raw: programs::AGENT_ENTER_RAW,
                        tracepoint: None,
                        btf: programs::AGENT_ENTER_BTF,
                    },
                    "sys_enter",
                )],
            }),
        })?;
        watch.hook = used.unwrap_or(hook);
        Ok(watch)
    }

    fn index(&mut self) -> Result<Array<&mut MapData, u64>, TracerError> {
        Array::try_from(self.probe.map_mut(maps::AGENT_INDEX)?).map_err(map_err(maps::AGENT_INDEX))
    }

    /// The place and entry of cgroup `id` in the index.
    fn find(&mut self, id: u64) -> Result<Option<(u32, u64)>, TracerError> {
        let ino = id as u32;
        let index = self.index()?;
        for place in agent::places(ino) {
            let entry = index.get(&place, 0).map_err(map_err(maps::AGENT_INDEX))?;
            if entry != 0 && agent::parts(entry).0 == ino {
                return Ok(Some((place, entry)));
            }
        }
        Ok(None)
    }

    /// Takes cgroup `id`, made at a `mkdir` the kernel counted in `slot`,
    /// for a container: cgroups made below it are counted in its slot.
    pub(crate) fn keep(&mut self, id: u64, slot: u32) -> Result<(), TracerError> {
        if let Some((place, _)) = self.find(id)? {
            let entry = agent::entry(id as u32, slot as u16, flags::CONTAINER);
            self.index()?
                .set(place, entry, 0)
                .map_err(map_err(maps::AGENT_INDEX))?;
        }
        Ok(())
    }

    /// Registers cgroup `id`, which was made before the agent watched, for
    /// a container: in `slot` (a cgroup below a container's), or a free
    /// slot. `None`: no slot or no place is free.
    pub(crate) fn register(
        &mut self,
        id: u64,
        slot: Option<u32>,
    ) -> Result<Option<u32>, TracerError> {
        if let Some((_, entry)) = self.find(id)? {
            return Ok(Some(u32::from(agent::parts(entry).1)));
        }
        let slot = match slot {
            Some(slot) => slot,
            None => {
                let mut free: Queue<_, u32> =
                    Queue::try_from(self.probe.map_mut(maps::AGENT_FREE)?)
                        .map_err(map_err(maps::AGENT_FREE))?;
                match free.pop(0) {
                    Ok(slot) => slot,
                    Err(MapError::ElementNotFound) => return Ok(None),
                    Err(e) => return Err(map_err(maps::AGENT_FREE)(e)),
                }
            }
        };
        let ino = id as u32;
        let mut index = self.index()?;
        for place in agent::places(ino) {
            if index.get(&place, 0).map_err(map_err(maps::AGENT_INDEX))? == 0 {
                index
                    .set(place, agent::entry(ino, slot as u16, flags::CONTAINER), 0)
                    .map_err(map_err(maps::AGENT_INDEX))?;
                return Ok(Some(slot));
            }
        }
        Ok(None)
    }

    /// Stops counting cgroup `id` (its slot is not freed: [`Watch::free`]).
    pub(crate) fn forget(&mut self, id: u64) -> Result<(), TracerError> {
        if let Some((place, _)) = self.find(id)? {
            self.index()?
                .set(place, 0, 0)
                .map_err(map_err(maps::AGENT_INDEX))?;
        }
        Ok(())
    }

    /// Zeroes `slot`'s counters and gives it back to the kernel. Call it
    /// once no cgroup of the index names it, and a poll later (a program
    /// that looked the cgroup up just before may still add one).
    pub(crate) fn free(&mut self, slot: u32) -> Result<(), TracerError> {
        let zero = AgentCounts {
            calls: [[0; agent::TABLE]; 4],
            out_of_range: 0,
        };
        let mut counts: Array<_, AgentCounts> =
            Array::try_from(self.probe.map_mut(maps::AGENT_COUNTS)?)
                .map_err(map_err(maps::AGENT_COUNTS))?;
        counts
            .set(slot, zero, 0)
            .map_err(map_err(maps::AGENT_COUNTS))?;
        let mut free: Queue<_, u32> = Queue::try_from(self.probe.map_mut(maps::AGENT_FREE)?)
            .map_err(map_err(maps::AGENT_FREE))?;
        free.push(slot, 0).map_err(map_err(maps::AGENT_FREE))
    }

    /// The cgroups made since the last call (and forgets them there).
    pub(crate) fn new_cgroups(&mut self) -> Result<Vec<NewCgroup>, TracerError> {
        let mut made: HashMap<_, u64, AgentNew> =
            HashMap::try_from(self.probe.map_mut(maps::AGENT_NEW)?)
                .map_err(map_err(maps::AGENT_NEW))?;
        let ids: Vec<u64> = made.keys().filter_map(Result::ok).collect();
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let Ok(new) = made.get(&id, 0) else {
                continue;
            };
            let _ = made.remove(&id);
            let end = new
                .path
                .iter()
                .position(|&b| b == 0)
                .unwrap_or(new.path.len());
            out.push(NewCgroup {
                id: new.cgroup,
                parent: new.parent,
                slot: new.slot,
                inherited: new.inherited != 0,
                path: String::from_utf8_lossy(&new.path[..end]).into_owned(),
            });
        }
        Ok(out)
    }

    /// The watched cgroups removed since the last call, with their slots.
    pub(crate) fn ended(&mut self) -> Result<Vec<(u64, u32)>, TracerError> {
        let mut ended: HashMap<_, u64, u32> =
            HashMap::try_from(self.probe.map_mut(maps::AGENT_ENDED)?)
                .map_err(map_err(maps::AGENT_ENDED))?;
        let ids: Vec<u64> = ended.keys().filter_map(Result::ok).collect();
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Ok(slot) = ended.get(&id, 0) {
                out.push((id, slot));
            }
            let _ = ended.remove(&id);
        }
        Ok(out)
    }

    /// What `slot` counted so far.
    pub(crate) fn counts(&self, slot: u32) -> Result<SlotCounts, TracerError> {
        let counts: Array<_, AgentCounts> = Array::try_from(self.probe.map(maps::AGENT_COUNTS)?)
            .map_err(map_err(maps::AGENT_COUNTS))?;
        let value = counts.get(&slot, 0).map_err(map_err(maps::AGENT_COUNTS))?;
        let mut out = SlotCounts {
            out_of_range: value.out_of_range,
            ..SlotCounts::default()
        };
        for filtered in [false, true] {
            for abi in Abi::ALL {
                let Some(arch) = self.arch.of_abi(abi) else {
                    continue;
                };
                let calls = match filtered {
                    true => &mut out.filtered,
                    false => &mut out.unfiltered,
                };
                for (nr, &n) in value.calls[agent::row(filtered, abi)].iter().enumerate() {
                    if n > 0 {
                        calls.insert((arch, nr as u64), n);
                    }
                }
            }
        }
        Ok(out)
    }

    /// What the kernel side could not keep, since the start.
    pub(crate) fn lost(&self) -> Result<Lost, TracerError> {
        let counters: Array<_, u64> = Array::try_from(self.probe.map(maps::AGENT_LOST)?)
            .map_err(map_err(maps::AGENT_LOST))?;
        let read = |i| counters.get(&i, 0).unwrap_or(0);
        Ok(Lost {
            no_slot: read(lost::NO_SLOT),
            no_place: read(lost::NO_PLACE),
            untold: read(lost::UNTOLD),
        })
    }

    /// Detaches everything and frees the kernel side.
    pub(crate) fn stop(self) -> Result<(), TracerError> {
        self.probe.stop()
    }
}
