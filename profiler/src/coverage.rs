//! Coverage: how much of what a program can do a recording saw.
//!
//! A recording allows exactly what one run did. [`crate::scan`] finds what
//! the program's machine code and its libraries can reach; set against the
//! observed syscalls, that says how much of the program a run exercised,
//! and which syscalls a path the run never took may need, ranked by the
//! risk the baseline's notes give them.
//!
//! A native recording's programs are the host's files ([`of`]); a
//! container's are in its image, exported for the scan ([`of_container`],
//! [`of_exported`]). With each program are scanned the shared objects its
//! processes loaded at run time (`dlopen`: a JVM's `libjvm.so`, plugins),
//! as the kernel saw them mapped ([`RunLoads`]): their code is the
//! program's too, though no DT_NEEDED entry names it.

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
};

use serde::{Deserialize, Serialize};

use crate::{
    baseline::{Access, Baseline, DockerContext, notes},
    notice,
    profile::SyscallSet,
    scan::{self, ScanError, ScanOptions, image, loader, tree::Tree},
    session::{events::LoadedObject, guardian::Guardian, interrupt::Interrupt},
};

/// The shared objects a run's processes loaded, as the kernel saw them
/// (`session::events::KernelEvents::loaded`): with each, the program of the
/// process that loaded it. Those a program's DT_NEEDED closure holds add
/// nothing; the others were loaded at run time.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct RunLoads<'a> {
    pub objects: &'a [LoadedObject],
    /// Loads the kernel could not keep (a path too long, a full map).
    pub lost: u64,
}

/// A recording's coverage of what its programs can reach.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Coverage {
    /// The executables scanned: the recorded command, and the programs it
    /// executed that could be found.
    pub programs: Vec<PathBuf>,
    /// How many syscalls the run made (x86-64 table).
    pub observed: usize,
    /// How many its programs can reach.
    pub reachable: usize,
    /// Of those, how many the run made: `covered / reachable` is the
    /// coverage.
    pub covered: usize,
    /// Reachable but not observed, most dangerous first: what an untested
    /// path may need.
    pub unobserved: Vec<String>,
    /// Observed but not found reachable (made by code the scan does not
    /// see: a JIT, a plugin, or an unresolved site).
    pub not_found: Vec<String>,
    /// Sites whose syscall number the scan could not resolve: any syscall
    /// may be made there.
    pub unresolved_sites: usize,
    /// Programs that could not be scanned, and why.
    pub errors: Vec<String>,
    /// The shared objects scanned that the run loaded at run time
    /// (`dlopen`), not through its executables' DT_NEEDED entries, and
    /// the libraries only they need; paths inside the scanned root,
    /// symlinks resolved.
    #[serde(default)]
    pub loaded_at_run_time: Vec<PathBuf>,
    /// Loads the kernel could not keep (a path longer than it keeps, or too
    /// many objects): what they loaded is not scanned.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub loads_not_kept: u64,
    /// For a container: the image whose filesystem the programs were
    /// scanned in (their paths are inside it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// With `--include reachable`: the default profile whose allowed
    /// syscalls were added (reachable ∩ that default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub included_within: Option<String>,
    /// The signal that stopped the scan before it was done: the figures
    /// then count only the programs scanned until then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interrupted: Option<i32>,
    /// The reachable syscalls themselves.
    #[serde(skip)]
    pub reachable_set: BTreeSet<String>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Coverage {
    /// The share of the reachable syscalls the run made, in percent.
    pub(crate) fn percent(&self) -> f64 {
        if self.reachable == 0 {
            100.0
        } else {
            100.0 * self.covered as f64 / self.reachable as f64
        }
    }

    /// One line for the summary: "41 observed of 97 reachable (42 %); 56
    /// reachable but not observed, the riskiest: …".
    pub(crate) fn summary(&self) -> String {
        let mut text = format!(
            "coverage: {} of {} reachable syscalls observed ({:.0} %)",
            self.covered,
            self.reachable,
            self.percent()
        );
        if !self.unobserved.is_empty() {
            let shown: Vec<&str> = self.unobserved.iter().take(8).map(String::as_str).collect();
            text.push_str(&format!(
                "; {} reachable but not observed, the riskiest: {}",
                self.unobserved.len(),
                shown.join(" ")
            ));
        }
        if self.unresolved_sites > 0 {
            text.push_str(&format!(
                "; {} site(s) with a number the scan could not resolve",
                self.unresolved_sites
            ));
        }
        if !self.loaded_at_run_time.is_empty() {
            let shown: Vec<String> = self
                .loaded_at_run_time
                .iter()
                .map(|p| p.display().to_string())
                .collect();
            text.push_str(&format!(
                "; scanned with {} object(s) loaded at run time: {}",
                shown.len(),
                shown.join(" ")
            ));
        }
        if self.loads_not_kept > 0 {
            text.push_str(&format!(
                "; incomplete: {} shared object load(s) could not be kept (a path longer than {} \
                 bytes, or more than {} objects), and are not scanned",
                self.loads_not_kept,
                profiler_common::LOADED_PATH_LEN - 1,
                profiler_common::LOADED_SLOTS
            ));
        }
        if let Some(signal) = self.interrupted {
            text.push_str(&format!(
                "; incomplete: signal {signal} stopped the scan before every program was scanned"
            ));
        }
        text
    }
}

/// Scans `programs` (the host's files), with the objects the run loaded
/// (`loads`), and sets what they can reach against `observed`. A program
/// that cannot be scanned is named in `errors`, never dropped silently. A
/// signal (`interrupt`) stops the scan within a fraction of a second, and
/// the coverage says it is incomplete.
pub(crate) fn of(
    programs: &[PathBuf],
    observed: &SyscallSet,
    loads: RunLoads<'_>,
    interrupt: Option<&Interrupt>,
    say: notice::Sink,
) -> Coverage {
    let root = match Tree::host() {
        Ok(root) => root,
        Err(e) => {
            return Coverage {
                errors: vec![format!("/: {e}")],
                ..Coverage::default()
            };
        }
    };
    let programs: Vec<PathBuf> = programs
        .iter()
        .map(|program| match std::env::current_dir() {
            Ok(cwd) if program.is_relative() => cwd.join(program),
            _ => program.clone(),
        })
        .collect();
    let options = ScanOptions {
        interrupt: interrupt.cloned(),
        say,
        ..ScanOptions::in_root(root)
    };
    of_in(&programs, observed, loads, &options)
}

/// As [`of`], for programs inside `options.root`. A script is scanned as
/// the interpreter its `#!` line names.
fn of_in(
    programs: &[PathBuf],
    observed: &SyscallSet,
    loads: RunLoads<'_>,
    options: &ScanOptions,
) -> Coverage {
    let root = loader::Root::new(&options.root);
    let mut coverage = Coverage {
        loads_not_kept: loads.lost,
        ..Coverage::default()
    };
    // Each program as scanned (a script as its interpreter), by file: the
    // same file under another name (busybox's applets) once.
    let scanned_as = |program: &Path| {
        let program = interpreter_of(&root, program).unwrap_or_else(|| program.to_owned());
        let file = root.resolve(&program).unwrap_or_else(|| program.clone());
        (program, file)
    };
    let mut scans: Vec<(PathBuf, PathBuf, Vec<PathBuf>)> = Vec::new();
    for program in programs {
        let (program, file) = scanned_as(program);
        if !scans.iter().any(|(_, f, _)| *f == file) {
            scans.push((program, file, Vec::new()));
        }
    }
    // What each program's processes loaded goes with its scan, in load
    // order; what a process whose program is not known loaded (too many
    // processes at once) goes with the command's. An object of a program
    // that is not scanned (a relative path, a file gone) is not either.
    // Only absolute paths come from the kernel side: a relative one could
    // not be found again.
    for load in loads.objects {
        let path = Path::new(&load.path);
        if !path.is_absolute() {
            continue;
        }
        let target = match &load.program {
            Some(program) => {
                let (_, file) = scanned_as(Path::new(program));
                scans.iter_mut().find(|(_, f, _)| *f == file)
            }
            None => scans.first_mut(),
        };
        if let Some((_, _, extra)) = target
            && !extra.iter().any(|p| p == path)
        {
            extra.push(path.to_owned());
        }
    }
    let mut loaded_at_run_time = BTreeSet::new();
    for (program, _, extra) in scans {
        let options = ScanOptions {
            extra_objects: options.extra_objects.iter().cloned().chain(extra).collect(),
            ..options.clone()
        };
        match scan::reachable(&program, &options) {
            Ok(result) => {
                coverage.programs.push(program.clone());
                coverage
                    .reachable_set
                    .extend(result.syscalls.keys().cloned());
                coverage.unresolved_sites += result.unresolved.len();
                loaded_at_run_time.extend(
                    result
                        .objects
                        .iter()
                        .filter(|o| o.loaded_at_run_time)
                        .map(|o| o.path.clone()),
                );
                coverage.errors.extend(result.not_scanned.iter().map(|e| {
                    format!(
                        "{e}: loaded at run time by {}, its reach is not counted",
                        program.display()
                    )
                }));
            }
            Err(ScanError::Interrupted { signal }) => {
                coverage.interrupted = Some(signal);
                break;
            }
            Err(e) => coverage.errors.push(format!("{}: {e}", program.display())),
        }
    }
    coverage.loaded_at_run_time = loaded_at_run_time.into_iter().collect();
    let observed: BTreeSet<String> = observed.iter().map(str::to_owned).collect();
    coverage.observed = observed.len();
    coverage.reachable = coverage.reachable_set.len();
    coverage.covered = coverage.reachable_set.intersection(&observed).count();
    let mut unobserved: Vec<String> = coverage
        .reachable_set
        .difference(&observed)
        .cloned()
        .collect();
    // Most dangerous first, then by name.
    unobserved.sort_by(|a, b| notes::danger(b).cmp(&notes::danger(a)).then(a.cmp(b)));
    coverage.unobserved = unobserved;
    coverage.not_found = observed
        .difference(&coverage.reachable_set)
        .cloned()
        .collect();
    coverage
}

/// The interpreter a script's `#!` line names (inside `root`), if
/// `program` is a script: the kernel runs that, with the script as its
/// argument.
fn interpreter_of(root: &loader::Root, program: &Path) -> Option<PathBuf> {
    let head = root.tree.head(&root.resolve(program)?, 256).ok()?;
    let line = head.strip_prefix(b"#!")?;
    let line = &line[..line.iter().position(|&b| b == b'\n').unwrap_or(line.len())];
    let interpreter = String::from_utf8_lossy(line)
        .split_whitespace()
        .next()?
        .to_owned();
    interpreter
        .starts_with('/')
        .then(|| PathBuf::from(interpreter))
}

/// Where a container's programs are: the image, and the engine that has it.
pub(crate) struct ContainerImage<'a> {
    pub engine: &'a image::Engine,
    pub image: &'a str,
}

/// The programs a container executed that are its workload's: `executed`
/// holds the paths given to `execve`, inside the container. The runtime
/// executing itself (`/proc/self/exe`, a copy of itself in a memfd run as
/// `/dev/fd/N`) is not the workload, and a relative path (whose directory
/// is not known) cannot be found: both are left out. Each path once.
pub(crate) fn container_programs(executed: &[String]) -> Vec<PathBuf> {
    let programs: BTreeSet<PathBuf> = executed
        .iter()
        .map(Path::new)
        .filter(|p| p.is_absolute() && !p.starts_with("/proc") && !p.starts_with("/dev"))
        .map(Path::to_path_buf)
        .collect();
    programs.into_iter().collect()
}

/// The coverage of a container recording: `programs` (see
/// [`container_programs`]) are scanned inside the image's filesystem,
/// exported for it (the export and its helper container are handed to
/// `guardian` before they exist, and removed before this returns). A
/// program that is not in the image (a volume, a file written at run time)
/// is named in `errors`. A signal (`interrupt`) ends the export or the scan
/// at once.
pub(crate) fn of_container(
    container: &ContainerImage<'_>,
    programs: &[PathBuf],
    observed: &SyscallSet,
    loads: RunLoads<'_>,
    guardian: &mut Guardian,
    interrupt: Option<&Interrupt>,
    say: notice::Sink,
) -> Coverage {
    match image::export(container.engine, container.image, guardian, interrupt) {
        Ok(exported) => of_exported(
            &exported,
            container.image,
            programs,
            observed,
            loads,
            interrupt,
            say,
        ),
        Err(ScanError::Interrupted { signal }) => Coverage {
            interrupted: Some(signal),
            image: Some(container.image.to_owned()),
            ..Coverage::default()
        },
        Err(e) => Coverage {
            errors: vec![format!("the image {}: {e}", container.image)],
            image: Some(container.image.to_owned()),
            ..Coverage::default()
        },
    }
}

/// As [`of_container`], in an image already exported. The objects loaded
/// are found inside the image, by the paths the container's processes
/// opened them by.
pub(crate) fn of_exported(
    exported: &image::ImageRoot,
    image: &str,
    programs: &[PathBuf],
    observed: &SyscallSet,
    loads: RunLoads<'_>,
    interrupt: Option<&Interrupt>,
    say: notice::Sink,
) -> Coverage {
    let mut coverage = of_tree(
        exported.root(),
        &format!("not in the image {image} (mounted from the host, or written at run time)"),
        programs,
        observed,
        loads,
        interrupt,
        say,
    );
    coverage.image = Some(image.to_owned());
    coverage
}

/// The coverage of a running container that was attached to: `programs`
/// (paths inside it) scanned through its own root (`root`: its first
/// process's `/proc/PID/root`, opened when the recording began), under the
/// rules of an image's scan: every path resolved inside that root, only
/// regular files read, each non-blocking and within its size limit.
pub(crate) fn of_root(
    root: Tree,
    programs: &[PathBuf],
    observed: &SyscallSet,
    loads: RunLoads<'_>,
    interrupt: Option<&Interrupt>,
    say: notice::Sink,
) -> Coverage {
    of_tree(
        root,
        "not in the container's root (gone, or replaced)",
        programs,
        observed,
        loads,
        interrupt,
        say,
    )
}

/// `programs` scanned in `tree`; each one that is not a file there is
/// named in the errors, `missing` saying why.
fn of_tree(
    tree: Tree,
    missing_why: &str,
    programs: &[PathBuf],
    observed: &SyscallSet,
    loads: RunLoads<'_>,
    interrupt: Option<&Interrupt>,
    say: notice::Sink,
) -> Coverage {
    let options = ScanOptions {
        interrupt: interrupt.cloned(),
        say,
        ..ScanOptions::in_root(tree)
    };
    let root = loader::Root::new(&options.root);
    let mut found = Vec::new();
    let mut missing = Vec::new();
    for path in programs {
        match root.resolve(path) {
            Some(file) if root.tree.is_file(&file) => found.push(path.clone()),
            _ => missing.push(format!(
                "{}: {missing_why}: its reach is not counted",
                path.display(),
            )),
        }
    }
    let mut coverage = of_in(&found, observed, loads, &options);
    coverage.errors.extend(missing);
    coverage
}

/// `observed ∪ (reachable ∩ baseline for `context`)`, the baseline being
/// the default of the engine the program runs under (Docker's for a native
/// command): a profile that does not break on an untested path the code can
/// take, and still allows nothing the default refuses that the run did not
/// need. A syscall the
/// default allows only under argument conditions (socket, clone,
/// personality) is added by name, as learned profiles hold names; the
/// conditions come with argument-level profiles. The risky syscalls of
/// [`notes::WITHHELD_FROM_REACHABLE`] the run did not make are left out,
/// but those `risky` names. Returns the names added, and those withheld.
pub(crate) fn include_reachable(
    syscalls: &mut SyscallSet,
    coverage: &Coverage,
    baseline: &Baseline,
    context: &DockerContext,
    risky: &[String],
) -> (Vec<String>, Vec<String>) {
    let default = baseline.evaluate(context);
    let mut added = Vec::new();
    let mut withheld = Vec::new();
    for name in &coverage.reachable_set {
        let allowed = match default.access(name) {
            Access::Allowed => true,
            // Some calls run: the default does not refuse the syscall itself.
            Access::Conditional { when, .. } => when.iter().any(|grant| grant.verdict.runs()),
            Access::Denied(_) => false,
        };
        if !allowed || syscalls.contains(name) {
            continue;
        }
        if notes::withheld_from_reachable(name) && !risky.contains(name) {
            withheld.push(name.clone());
            continue;
        }
        syscalls.insert(name.as_str());
        added.push(name.clone());
    }
    (added, withheld)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_containers_programs_leave_out_the_runtime_and_relative_paths() {
        let executed = [
            "/proc/self/exe",
            "/dev/fd/6",
            "/bin/app",
            "./relative",
            "/bin/app",
            "/usr/bin/env",
        ]
        .map(str::to_owned);
        assert_eq!(
            container_programs(&executed),
            [PathBuf::from("/bin/app"), PathBuf::from("/usr/bin/env")]
        );
    }

    #[test]
    fn a_script_is_scanned_as_its_interpreter() {
        let dir = tempfile::tempdir().expect("tempdir");
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).expect("mkdir");
        std::fs::write(bin.join("run.sh"), "#!/bin/busybox sh -e\necho hi\n").expect("write");
        std::fs::write(bin.join("plain"), "\x7fELF").expect("write");
        std::os::unix::fs::symlink("run.sh", bin.join("link")).expect("symlink");
        let root = loader::Root::new(&Tree::dir(dir.path()).expect("open the root"));
        let interpreter = |p: &str| interpreter_of(&root, Path::new(p));
        assert_eq!(
            interpreter("/bin/run.sh"),
            Some(PathBuf::from("/bin/busybox"))
        );
        assert_eq!(
            interpreter("/bin/link"),
            Some(PathBuf::from("/bin/busybox"))
        );
        assert_eq!(interpreter("/bin/plain"), None);
        assert_eq!(interpreter("/bin/missing"), None);
    }
}
