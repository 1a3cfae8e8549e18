//! `scan`: the syscalls a program *can* make, read from its machine code and
//! the shared libraries it loads (x86-64 ELF: C, C++, Rust and Go programs,
//! static or dynamic).
//!
//! # Method
//!
//! 1. **Objects** ([`loader`]): the executable, then its DT_NEEDED libraries
//!    breadth-first, found as glibc's loader finds them (RPATH/RUNPATH with
//!    `$ORIGIN`, `/etc/ld.so.cache` read by [`ldcache`], the default
//!    directories), and the interpreter named by PT_INTERP (ld.so, whose own
//!    syscalls are part of every dynamic program's run).
//! 2. **Per object** ([`analysis`]): the executable sections are decoded
//!    (iced-x86) and cut into functions; each function is summarised by its
//!    syscall sites with their numbers, its direct calls and jumps, its calls
//!    through the PLT/GOT (by symbol name), the code addresses it takes, and
//!    the sites whose number could not be found. The summary depends only on
//!    the object's bytes, so it is cached by GNU build id ([`cache`]).
//! 3. **Whole program** (here): reachability over all objects from the
//!    roots: the executable's entry point; the interpreter's entry point;
//!    every object's DT_INIT/DT_FINI and every function whose address is in
//!    its data (init/fini arrays, vtables, callback tables, IFUNC
//!    resolvers). A call through the PLT/GOT goes to the first object in
//!    load order that exports the name (as the loader binds it); a function
//!    whose address is taken in reachable code is reachable (it may be
//!    called through that pointer). Libraries are thus analysed per exported
//!    function: only what the loaded objects can reach of them counts.
//!    Calls through pointers are not followed; the address-taken rule
//!    above is what keeps the result sound for them.
//!
//! Syscall numbers are found by walking back from each `syscall` over the
//! code before it (see [`analysis`]); wrappers that take the number as an
//! argument (glibc's and musl's `syscall()`, Go's `syscall.Syscall` and its
//! runtime's `Syscall6`) are resolved at their call sites. A site that
//! cannot be resolved is reported, with its object, address and function.
//!
//! # Limits
//!
//! - Code that does not exist in a file: JIT-compiled code, and
//!   self-modifying code, are not seen.
//! - Objects loaded at run time with `dlopen` (plugins, NSS modules, Python
//!   extension modules, gconv modules) are not in DT_NEEDED: name them with
//!   [`ScanOptions::extra_objects`] (a recording names those its run
//!   loaded). Each is a plugin, every export of which may be called (by
//!   `dlsym`), and its own DT_NEEDED libraries are found as the
//!   executable's are.
//! - The vDSO's functions (clock_gettime, gettimeofday, time, getcpu) make
//!   no syscall; their fallbacks in libc are ordinary syscall sites.
//! - LD_PRELOAD and LD_LIBRARY_PATH are not consulted.
//! - Syscall numbers computed at run time (loaded from memory, passed
//!   through a table) are unresolved sites: reported, never dropped.
//! - Linear-sweep decoding trusts that executable sections hold code (true
//!   of what GCC, Clang, rustc and Go emit for x86-64), and an indirect jump
//!   whose targets are not in data (a PIC switch table of offsets) is
//!   trusted to stay inside its function, as compilers emit them.
//! - x86-64 only; `int 0x80`/`sysenter` sites are reported under i386's
//!   table, apart.

pub mod analysis;
pub(crate) mod budget;
pub mod cache;
pub(crate) mod elf;
pub(crate) mod image;
pub(crate) mod ldcache;
pub(crate) mod loader;
pub mod tree;

use std::{
    collections::{BTreeMap, HashMap, HashSet, VecDeque},
    path::{Path, PathBuf},
    time::Instant,
};

use serde::Serialize;

use crate::{
    notice::{self, Notice},
    profile::{Arch, table},
    session::interrupt::Interrupt,
};
use analysis::{Loc, ObjectSummary};
use tree::Tree;

/// How many origins are kept per syscall (the first ones found, breadth
/// first: the shortest paths).
const ORIGINS_PER_SYSCALL: usize = 8;

#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("cannot read {}: {source}", crate::text::path(path))]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Input(#[from] crate::input::InputError),
    #[error("the scan was interrupted by signal {signal}")]
    Interrupted { signal: i32 },
    #[error("{}: {}", crate::text::path(path), crate::text::printable(what))]
    Elf { path: PathBuf, what: String },
    #[error(
        "{} is not an x86-64 ELF executable; give a program file",
        crate::text::path(path)
    )]
    NotElf { path: PathBuf },
    #[error("{engine}: {}", crate::text::printable(what))]
    Engine { engine: String, what: String },
    #[error("cannot hand the image's export to the guardian process: {source}")]
    Guardian { source: std::io::Error },
    #[error("the image has no entrypoint or command; name the program to scan after the image")]
    NoImageCommand,
    #[error(
        "{} is not in the image's PATH; give its path inside the image",
        crate::text::printable(program)
    )]
    NotInImage { program: String },
}

/// What a scan is asked to do.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// The filesystem the program and its libraries are in (the host's
    /// root, a directory, or an image's export). The program's path is
    /// inside it.
    pub root: Tree,
    /// Where analyses are cached; `None` for no cache.
    pub cache_dir: Option<PathBuf>,
    /// Objects the program loads with `dlopen`, in the order it loads
    /// them: analysed as loaded libraries whose every export may be
    /// called, with their DT_NEEDED libraries. One already loaded (by the
    /// executable's DT_NEEDED, or as another's dependency) is skipped.
    pub extra_objects: Vec<PathBuf>,
    /// Set when a signal asks the tool to stop: the scan ends within a
    /// fraction of a second with [`ScanError::Interrupted`].
    pub interrupt: Option<Interrupt>,
    /// Where the scan's warnings go (an analysis the cache cannot keep).
    pub say: notice::Sink,
}

impl ScanOptions {
    /// A scan of the files in `root`, cached in the default place.
    pub fn in_root(root: Tree) -> ScanOptions {
        ScanOptions {
            root,
            cache_dir: cache::default_dir(),
            extra_objects: Vec::new(),
            interrupt: None,
            say: notice::nowhere,
        }
    }

    /// The signal that asked the tool to stop, if one did.
    fn interrupted(&self) -> Option<i32> {
        self.interrupt.as_ref().and_then(Interrupt::signal)
    }

    /// Fails once a signal asked the tool to stop.
    fn check_interrupt(&self) -> Result<(), ScanError> {
        match self.interrupted() {
            Some(signal) => Err(ScanError::Interrupted { signal }),
            None => Ok(()),
        }
    }
}

/// How the code making a syscall was entered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "function")]
pub enum Entry {
    /// Code of the executable itself.
    Program,
    /// A library, through this function it exports.
    Library(String),
    /// The dynamic loader's own start-up.
    Interpreter,
    /// An initializer, or a function whose address is in data.
    Pointer,
    /// A library loaded with dlopen (named in `extra_objects`).
    Plugin,
}

/// One place a syscall is made.
#[derive(Debug, Clone, Serialize)]
pub struct Origin {
    pub object: PathBuf,
    pub function: String,
    pub address: u64,
    pub entry: Entry,
    /// The wrapper taking the number as an argument (`syscall`), when the
    /// number was passed to one here.
    pub wrapper: Option<String>,
}

/// A site whose syscall number the scan could not find.
#[derive(Debug, Clone, Serialize)]
pub struct Site {
    pub object: PathBuf,
    pub address: u64,
    pub function: String,
    pub reason: String,
}

/// What a scan learnt about one object.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Executable,
    Library,
    Interpreter,
    Plugin,
}

#[derive(Debug, Clone, Serialize)]
pub struct ObjectInfo {
    pub path: PathBuf,
    pub role: Role,
    pub build_id: Option<String>,
    pub functions: usize,
    pub reachable_functions: usize,
    pub instructions: usize,
    /// Its analysis came from the cache.
    pub cached: bool,
    pub analysis_ms: u64,
    /// Loaded at run time: one of [`ScanOptions::extra_objects`], or a
    /// library only one of those needs.
    pub loaded_at_run_time: bool,
}

/// The result of a scan.
#[derive(Debug, Clone, Serialize)]
pub struct Reachability {
    /// x86-64 syscalls reachable, by name, with where they are made.
    pub syscalls: BTreeMap<String, Vec<Origin>>,
    /// Syscalls made with `int 0x80`/`sysenter` (i386's table).
    pub i386_syscalls: BTreeMap<String, Vec<Origin>>,
    /// Sites whose number is unknown: any syscall may be made there.
    pub unresolved: Vec<Site>,
    pub objects: Vec<ObjectInfo>,
    /// DT_NEEDED entries no file was found for (their syscalls are missing).
    pub missing_libraries: Vec<String>,
    /// Objects of [`ScanOptions::extra_objects`] that could not be scanned
    /// (not found, not an x86-64 ELF object, unreadable), and why: their
    /// syscalls are missing.
    pub not_scanned: Vec<String>,
    /// Reachable code calls through pointers: every function whose address
    /// is taken in reachable code or held in data is counted as reachable.
    pub indirect_calls: bool,
    pub elapsed_ms: u64,
}

struct Object {
    path: PathBuf,
    role: Role,
    summary: ObjectSummary,
    cached: bool,
    analysis_ms: u64,
    loaded_at_run_time: bool,
}

/// Scans the program at `path` (inside `options.root`).
pub fn reachable(path: &Path, options: &ScanOptions) -> Result<Reachability, ScanError> {
    let started = Instant::now();
    let root = loader::Root::new(&options.root);
    let absolute = if path.is_absolute() {
        path.to_owned()
    } else {
        std::env::current_dir()
            .map_err(|source| ScanError::Read {
                path: path.to_owned(),
                source,
            })?
            .join(path)
    };
    let shown = options.root.shown(&absolute);
    let Some(resolved) = root.resolve(&absolute) else {
        return Err(ScanError::Read {
            path: shown,
            source: std::io::Error::from_raw_os_error(libc::ENOENT),
        });
    };
    // A FIFO, a device, a directory: refused, never opened for reading.
    options.root.head(&resolved, 0)?;
    let Some(main_found) = loader::open(&root, &absolute) else {
        return Err(ScanError::NotElf { path: shown });
    };
    let main_path = main_found.path.clone();

    let mut objects: Vec<Object> = Vec::new();
    let mut missing = Vec::new();
    let mut loaded = loader::Loaded::default();
    let main = summarise(&main_found, Role::Executable, options)?;
    loaded.add(&main_path, main.summary.soname.as_deref());
    objects.push(main);
    let mut found_needed = Needed {
        root: &root,
        options,
        objects: &mut objects,
        loaded: &mut loaded,
        missing: &mut missing,
    };
    found_needed.closure(0, false)?;
    if let Some(interp) = objects[0].summary.interp.clone() {
        match loader::open(&root, Path::new(&interp)) {
            Some(found) => {
                if let Some(o) = objects.iter_mut().find(|o| o.path == found.path) {
                    o.role = Role::Interpreter;
                } else {
                    let object = summarise(&found, Role::Interpreter, options)?;
                    objects.push(object);
                }
            }
            None => missing.push(interp),
        }
    }
    let mut not_scanned = Vec::new();
    for extra in &options.extra_objects {
        let shown = options.root.shown(extra);
        let Some(found) = loader::open(&root, extra) else {
            not_scanned.push(format!(
                "{}: not found as an x86-64 ELF object",
                shown.display()
            ));
            continue;
        };
        if loaded.has_path(&found.path) {
            continue;
        }
        let mut object = match summarise(&found, Role::Plugin, options) {
            Ok(object) => object,
            Err(e @ ScanError::Interrupted { .. }) => return Err(e),
            Err(e) => {
                not_scanned.push(e.to_string());
                continue;
            }
        };
        object.loaded_at_run_time = true;
        loaded.add(&found.path, object.summary.soname.as_deref());
        objects.push(object);
        // What it needs is loaded with it (found as the executable's
        // libraries are), unless loaded already.
        let mut found_needed = Needed {
            root: &root,
            options,
            objects: &mut objects,
            loaded: &mut loaded,
            missing: &mut missing,
        };
        let plugin = found_needed.objects.len() - 1;
        found_needed.closure(plugin, true)?;
    }

    let mut result = combine(&objects);
    result.missing_libraries = missing;
    result.not_scanned = not_scanned;
    result.elapsed_ms = started.elapsed().as_millis() as u64;
    Ok(result)
}

/// What a scan of one object alone reaches, from a summary of it as the
/// cache holds one: the walk a scan makes over its objects, with this one
/// object as the executable.
///
/// Public for the fuzzer (`fuzz/`, target `scan_cache`): whatever a
/// summary [`cache::parse`] accepts, the walk ends without a panic.
pub fn reachable_in_summary(path: &Path, summary: ObjectSummary) -> Reachability {
    combine(&[Object {
        path: path.to_owned(),
        role: Role::Executable,
        summary,
        cached: true,
        analysis_ms: 0,
        loaded_at_run_time: false,
    }])
}

/// The DT_NEEDED closure of one object, found breadth-first as the loader
/// finds it, added to the objects loaded.
struct Needed<'a> {
    root: &'a loader::Root,
    options: &'a ScanOptions,
    objects: &'a mut Vec<Object>,
    loaded: &'a mut loader::Loaded,
    missing: &'a mut Vec<String>,
}

impl Needed<'_> {
    /// Loads what `objects[from]` needs, and what that needs, as
    /// libraries (`at_run_time` when `from` was loaded at run time).
    fn closure(&mut self, from: usize, at_run_time: bool) -> Result<(), ScanError> {
        let mut queue: VecDeque<usize> = VecDeque::from([from]);
        while let Some(o) = queue.pop_front() {
            let needed = self.objects[o].summary.needed.clone();
            for name in needed {
                if self.loaded.has_soname(&name) {
                    continue;
                }
                let requester = loader::Requester {
                    path: &self.objects[o].path,
                    rpath: &self.objects[o].summary.rpath,
                    runpath: &self.objects[o].summary.runpath,
                };
                let executable = loader::Requester {
                    path: &self.objects[0].path,
                    rpath: &self.objects[0].summary.rpath,
                    runpath: &self.objects[0].summary.runpath,
                };
                let Some(found) = loader::search(self.root, &name, &requester, &executable) else {
                    self.missing.push(name);
                    continue;
                };
                if self.loaded.has_path(&found.path) {
                    continue;
                }
                let mut object = summarise(&found, Role::Library, self.options)?;
                object.loaded_at_run_time = at_run_time;
                self.loaded.add(&found.path, Some(&name));
                self.loaded
                    .add(&found.path, object.summary.soname.as_deref());
                self.objects.push(object);
                queue.push_back(self.objects.len() - 1);
            }
        }
        Ok(())
    }
}

/// The summary of one object: from the cache, or analysed (and cached).
/// The cache is keyed by the digest of the object's bytes (and the
/// scanner's version): a file cannot pass for another by carrying its build
/// id. An object that does not parse, or holds no code, is an error naming
/// it, and is never cached.
fn summarise(
    found: &loader::Found,
    role: Role,
    options: &ScanOptions,
) -> Result<Object, ScanError> {
    options.check_interrupt()?;
    let started = Instant::now();
    let path = &found.path;
    let tree = &options.root;
    let digest = match &options.cache_dir {
        Some(_) => Some(tree.digest(path, loader::OBJECT_LIMIT)?),
        None => None,
    };
    if let (Some(dir), Some(digest)) = (&options.cache_dir, &digest)
        && let Some(summary) = cache::load(dir, digest)
    {
        return Ok(Object {
            path: path.to_owned(),
            role,
            summary,
            cached: true,
            analysis_ms: started.elapsed().as_millis() as u64,
            loaded_at_run_time: false,
        });
    }
    let bytes = tree.map(path, loader::OBJECT_LIMIT)?;
    let release = || bytes.release();
    let summary = analyse_object(&tree.shown(path), &bytes, &release, &|| {
        options.interrupted()
    })?;
    if let (Some(dir), Some(digest)) = (&options.cache_dir, &digest)
        && let Err(e) = cache::store(dir, digest, &summary)
    {
        (options.say)(Notice::Warning(format!(
            "cannot cache the analysis of {} in {}: {e}",
            crate::text::path(path),
            crate::text::path(dir)
        )));
    }
    Ok(Object {
        path: path.to_owned(),
        role,
        summary,
        cached: false,
        analysis_ms: started.elapsed().as_millis() as u64,
        loaded_at_run_time: false,
    })
}

/// The analysis of one object's bytes, as a scan makes it of each file it
/// loads (`shown` names the file in messages): its ELF facts read, then
/// its code analysed, within the memory one object may hold. `release`
/// lets go of the pages of `bytes` read so far (a no-op for bytes in
/// memory); `interrupted` is asked every few milliseconds and ends the
/// analysis with [`ScanError::Interrupted`] when it names a signal.
///
/// Public for the fuzzer (`fuzz/`, target `elf`), which gives it arbitrary
/// bytes: whatever they are, it returns a summary or an error, never
/// panics or hangs.
pub fn analyse_object<'a>(
    shown: &Path,
    bytes: &'a [u8],
    release: &'a dyn Fn(),
    interrupted: &dyn Fn() -> Option<i32>,
) -> Result<ObjectSummary, ScanError> {
    let budget = budget::Budget::default();
    let mut facts = elf::ElfFacts::parse(shown, bytes, &budget, release)?;
    release();
    match analysis::analyse(&mut facts, &budget, &|| interrupted().is_some(), release) {
        Ok(summary) => Ok(summary),
        Err(analysis::Stopped::Asked) => Err(ScanError::Interrupted {
            signal: interrupted().unwrap_or(0),
        }),
        Err(analysis::Stopped::TooLarge(over)) => Err(ScanError::Elf {
            path: shown.to_owned(),
            what: over.describe(),
        }),
    }
}

/// Reachability over all objects (see the module's documentation).
fn combine(objects: &[Object]) -> Reachability {
    // The loader's global scope: the executable, then load order.
    let mut exports: HashMap<&str, (usize, &[u32])> = HashMap::new();
    for (o, object) in objects.iter().enumerate() {
        if matches!(object.role, Role::Plugin) {
            continue;
        }
        for (name, fs) in &object.summary.exports {
            if !fs.is_empty() {
                exports.entry(name.as_str()).or_insert((o, fs.as_slice()));
            }
        }
    }

    struct Walk<'a> {
        objects: &'a [Object],
        entry: Vec<Vec<Option<Entry>>>,
        as_root: HashSet<(usize, u32)>,
        queue: VecDeque<(usize, u32)>,
        out: Reachability,
    }
    impl Walk<'_> {
        fn reach(&mut self, o: usize, f: u32, entry: &Entry, root: bool) {
            let Some(slot) = self.entry[o].get_mut(f as usize) else {
                return;
            };
            if slot.is_none() {
                *slot = Some(entry.clone());
                self.queue.push_back((o, f));
            }
            if root && self.as_root.insert((o, f)) {
                let summary = &self.objects[o].summary;
                let fun = &summary.functions[f as usize];
                for loc in fun.params() {
                    self.out.unresolved.push(Site {
                        object: self.objects[o].path.clone(),
                        address: fun.start,
                        function: summary.function_name(f),
                        reason: format!(
                            "a syscall wrapper taking its number in {} is reachable through a \
                             pointer, so its number is unknown",
                            loc.describe()
                        ),
                    });
                }
            }
        }

        fn origin(
            &mut self,
            o: usize,
            f: u32,
            nr: u64,
            i386: bool,
            site: u64,
            wrapper: Option<String>,
        ) {
            let object = &self.objects[o];
            let arch = if i386 { Arch::X86 } else { Arch::X86_64 };
            let function = object.summary.function_name(f);
            let Some(name) = table::name_of(arch, nr) else {
                self.out.unresolved.push(Site {
                    object: object.path.clone(),
                    address: site,
                    function,
                    reason: format!("number {nr} is not a syscall of {arch:?}"),
                });
                return;
            };
            let entry = self.entry[o][f as usize].clone().unwrap_or(Entry::Pointer);
            let map = if i386 {
                &mut self.out.i386_syscalls
            } else {
                &mut self.out.syscalls
            };
            let list = map.entry(name.to_owned()).or_default();
            if list.len() < ORIGINS_PER_SYSCALL {
                list.push(Origin {
                    object: object.path.clone(),
                    function,
                    address: site,
                    entry,
                    wrapper,
                });
            }
        }
    }

    let mut walk = Walk {
        objects,
        entry: objects
            .iter()
            .map(|o| vec![None; o.summary.functions.len()])
            .collect(),
        as_root: HashSet::new(),
        queue: VecDeque::new(),
        out: Reachability {
            syscalls: BTreeMap::new(),
            i386_syscalls: BTreeMap::new(),
            unresolved: Vec::new(),
            objects: Vec::new(),
            missing_libraries: Vec::new(),
            not_scanned: Vec::new(),
            indirect_calls: false,
            elapsed_ms: 0,
        },
    };
    let lookup = |name: &str| exports.get(name).copied();

    // Roots.
    for (o, object) in objects.iter().enumerate() {
        let s = &object.summary;
        let entry = match object.role {
            Role::Executable => Entry::Program,
            Role::Interpreter => Entry::Interpreter,
            Role::Library => Entry::Pointer,
            Role::Plugin => Entry::Plugin,
        };
        if matches!(object.role, Role::Executable | Role::Interpreter)
            && let Some(e) = s.entry
        {
            walk.reach(o, e, &entry, true);
        }
        let pointer_entry = match object.role {
            Role::Executable => Entry::Program,
            Role::Plugin => Entry::Plugin,
            _ => Entry::Pointer,
        };
        for f in &s.roots {
            walk.reach(o, *f, &pointer_entry, true);
        }
        if matches!(object.role, Role::Plugin) {
            for fs in s.exports.values() {
                for f in fs {
                    walk.reach(o, *f, &Entry::Plugin, true);
                }
            }
        }
        for name in &s.root_names {
            if let Some((o2, fs)) = lookup(name) {
                for f in fs {
                    let e = if o2 == 0 {
                        Entry::Program
                    } else {
                        Entry::Library(name.clone())
                    };
                    walk.reach(o2, *f, &e, true);
                }
            }
        }
    }

    while let Some((o, f)) = walk.queue.pop_front() {
        let object = &objects[o];
        let summary = &object.summary;
        let fun = &summary.functions[f as usize];
        let entry = walk.entry[o][f as usize].clone().unwrap_or(Entry::Pointer);
        walk.out.indirect_calls |= fun.indirect;
        for s in fun.syscalls() {
            let wrapper = s.via.map(|w| summary.function_name(w));
            walk.origin(o, f, s.nr, s.i386, s.site, wrapper);
        }
        for u in fun.unresolved() {
            walk.out.unresolved.push(Site {
                object: object.path.clone(),
                address: u.site,
                function: summary.function_name(f),
                reason: u.reason.clone(),
            });
        }
        for c in &fun.calls {
            walk.reach(o, *c, &entry, false);
        }
        for t in &fun.taken {
            walk.reach(o, *t, &entry, true);
        }
        for call in &fun.imports {
            let Some((o2, fs)) = lookup(&call.name) else {
                continue;
            };
            let e = if o2 == 0 {
                Entry::Program
            } else {
                Entry::Library(call.name.clone())
            };
            for callee in fs {
                walk.reach(o2, *callee, &e, false);
                let params = objects[o2].summary.functions[*callee as usize].params();
                for loc in params {
                    if *loc != Loc::Reg(7) {
                        walk.out.unresolved.push(Site {
                            object: object.path.clone(),
                            address: call.site,
                            function: summary.function_name(f),
                            reason: format!(
                                "{} takes a syscall number in {}, which is not followed across \
                                 objects",
                                call.name,
                                loc.describe()
                            ),
                        });
                        continue;
                    }
                    match &call.rdi {
                        Some(numbers) => {
                            for nr in numbers {
                                walk.origin(o, f, *nr, false, call.site, Some(call.name.clone()));
                            }
                        }
                        None => walk.out.unresolved.push(Site {
                            object: object.path.clone(),
                            address: call.site,
                            function: summary.function_name(f),
                            reason: format!(
                                "the syscall number passed to {} is not a constant",
                                call.name
                            ),
                        }),
                    }
                }
            }
        }
        for name in fun.taken_imports() {
            if let Some((o2, fs)) = lookup(name) {
                let e = if o2 == 0 {
                    Entry::Program
                } else {
                    Entry::Library(name.clone())
                };
                for callee in fs {
                    walk.reach(o2, *callee, &e, true);
                }
            }
        }
    }

    let mut out = walk.out;
    for (o, object) in objects.iter().enumerate() {
        out.objects.push(ObjectInfo {
            path: object.path.clone(),
            role: object.role.clone(),
            build_id: object.summary.build_id.clone(),
            functions: object.summary.functions.len(),
            reachable_functions: walk.entry[o].iter().filter(|e| e.is_some()).count(),
            instructions: object.summary.instructions,
            cached: object.cached,
            analysis_ms: object.analysis_ms,
            loaded_at_run_time: object.loaded_at_run_time,
        });
    }
    out.unresolved
        .sort_by(|a, b| (&a.object, a.address).cmp(&(&b.object, b.address)));
    out.unresolved
        .dedup_by(|a, b| a.object == b.object && a.address == b.address && a.reason == b.reason);
    out
}
