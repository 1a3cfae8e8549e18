//! `syscall-profile scan`: arguments, the analysis, the report.

use std::{
    ffi::OsString,
    fmt::Write as _,
    path::{Path, PathBuf},
};

use super::Error;
use crate::{
    exit,
    input::InputError,
    output::{Output, OutputError},
    scan::{
        Entry, Origin, Reachability, ScanError, ScanOptions, cache, image, reachable, tree::Tree,
    },
    session::{guardian::Guardian, interrupt::Interrupt},
    text,
};

#[derive(Debug, clap::Args)]
#[command(after_long_help = "\
A name without '/' is looked up in PATH, as a shell would.

Examples:
  syscall-profile scan /usr/sbin/nginx
  syscall-profile scan --json -o git.json git
  syscall-profile scan --image nginx:latest --engine podman

Exit status: 0 when the report was written, 2 otherwise.")]
pub struct ScanArgs {
    /// Print the result as JSON (every origin and unresolved site).
    #[arg(long)]
    pub json: bool,

    /// Write the report to FILE (default: standard output).
    ///
    /// Written atomically.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Analyse every object afresh, without reading or writing the cache.
    #[arg(long)]
    pub no_cache: bool,

    /// The filesystem the program and its libraries are in.
    ///
    /// An unpacked image, say; the program's path is inside it.
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,

    /// A library the program loads with dlopen (repeatable).
    ///
    /// A plugin: its exports count as reachable.
    #[arg(long, value_name = "FILE")]
    pub dlopen: Vec<PathBuf>,

    /// Scan inside this container image's filesystem.
    ///
    /// Exported with --engine; PROGRAM defaults to the image's entrypoint
    /// or command.
    #[arg(long, value_name = "IMAGE")]
    pub image: Option<String>,

    #[command(flatten)]
    pub engine: EngineArg,

    /// The program (a path, or a name looked up in PATH).
    ///
    /// Arguments after it (`scan -- CMD ARGS...`) are accepted and not
    /// used: what a program can reach does not depend on them.
    #[arg(value_name = "PROGRAM", required_unless_present = "image")]
    pub command: Vec<OsString>,
}

/// `--engine`, with `--image`: the engine that has the image.
#[derive(Debug, clap::Args)]
pub struct EngineArg {
    /// The engine that has the image: docker or podman.
    ///
    /// Its usual environment (DOCKER_HOST or CONTAINERS_STORAGE_CONF)
    /// applies.
    #[arg(
        long = "engine",
        value_name = "ENGINE",
        default_value = "docker",
        requires = "image"
    )]
    pub name: String,
}

impl EngineArg {
    /// The engine's CLI, found in PATH when it runs.
    pub(crate) fn engine(&self) -> image::Engine {
        image::Engine {
            cli: PathBuf::from(&self.name),
            globals: Vec::new(),
        }
    }
}

/// Why `scan` did not write its report: each keeps its source.
#[derive(Debug, thiserror::Error)]
pub enum ScanCliError {
    #[error(transparent)]
    Output(#[from] OutputError),
    #[error("cannot start the guardian process (it cleans up should this tool be killed): {0}")]
    Guardian(#[source] std::io::Error),
    #[error(transparent)]
    Scan(#[from] ScanError),
    #[error(transparent)]
    Input(#[from] InputError),
    #[error("give the program to scan")]
    NoProgram,
    #[error("the program's name is empty")]
    EmptyName,
    #[error("{} not found in PATH; give its path", crate::text::path(program))]
    NotInPath { program: PathBuf },
    #[error("cannot write the report as JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// A program of a coverage that could not be scanned, as the coverage
    /// names it.
    #[error("cannot scan {0}")]
    Coverage(String),
}

/// Entry point of `syscall-profile scan`.
pub fn run(args: ScanArgs) -> Result<i32, Error> {
    scan(&args)?;
    Ok(exit::SUCCESS)
}

fn scan(args: &ScanArgs) -> Result<(), ScanCliError> {
    let output = Output::prepare(args.output.as_deref())?;
    // A signal ends the export and the scan at once, in good order (the
    // export's directory and helper container removed).
    let interrupt = Interrupt::catch().ok();
    // Cleans up the export should this tool be killed; declared first, so
    // that it goes last.
    let mut guardian = None;
    let image = match &args.image {
        Some(reference) => {
            let guardian = guardian.insert(Guardian::spawn().map_err(ScanCliError::Guardian)?);
            Some(image::export(
                &args.engine.engine(),
                reference,
                guardian,
                interrupt.as_ref(),
            )?)
        }
        None => None,
    };
    let (root, path) = match &image {
        Some(image) => {
            let program = args
                .command
                .first()
                .map(|p| p.to_string_lossy().into_owned());
            let path = image::program(image, program.as_deref())?;
            (image.root(), path)
        }
        None => {
            let program = args.command.first().ok_or(ScanCliError::NoProgram)?;
            let root = Tree::dir(&args.root)?;
            let path = program_path(Path::new(program), &root)?;
            (root, path)
        }
    };
    let options = ScanOptions {
        cache_dir: if args.no_cache {
            None
        } else {
            cache::default_dir()
        },
        extra_objects: args.dlopen.clone(),
        interrupt,
        say: super::notice,
        ..ScanOptions::in_root(root)
    };
    let result = reachable(&path, &options)?;
    let text = if args.json {
        let mut s = serde_json::to_string_pretty(&result)?;
        s.push('\n');
        s
    } else {
        render(&path, &result)
    };
    output.commit(&text)?;
    Ok(())
}

/// The program's path: as given when it has a '/', else found in PATH
/// (inside `root`).
fn program_path(program: &Path, root: &Tree) -> Result<PathBuf, ScanCliError> {
    if program.as_os_str().is_empty() {
        return Err(ScanCliError::EmptyName);
    }
    if program.to_string_lossy().contains('/') {
        return Ok(program.to_owned());
    }
    let search = std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
    for dir in std::env::split_paths(&search) {
        let candidate = dir.join(program);
        if root
            .resolve(&candidate)
            .is_some_and(|resolved| root.is_file(&resolved))
        {
            return Ok(candidate);
        }
    }
    Err(ScanCliError::NotInPath {
        program: program.to_owned(),
    })
}

fn short(path: &Path) -> String {
    text::path(path.file_name().map(Path::new).unwrap_or(path))
}

fn describe(origin: &Origin) -> String {
    // Names and paths are the program's and its image's: escaped.
    let place = format!(
        "{}: {}",
        short(&origin.object),
        text::printable(&origin.function)
    );
    let how = match &origin.entry {
        Entry::Program => "direct".to_owned(),
        Entry::Library(f) => format!("through {}", text::printable(f)),
        Entry::Interpreter => "dynamic loader".to_owned(),
        Entry::Pointer => "through a function pointer".to_owned(),
        Entry::Plugin => "plugin".to_owned(),
    };
    match &origin.wrapper {
        Some(w) => format!("{how} ({place}, via {})", text::printable(w)),
        None => format!("{how} ({place})"),
    }
}

/// The human-readable report.
pub(crate) fn render(path: &Path, r: &Reachability) -> String {
    let mut s = String::new();
    let cached = r.objects.iter().filter(|o| o.cached).count();
    let _ = writeln!(
        s,
        "{}: {} syscalls reachable, {} unresolved sites ({} objects, {} from the cache; {:.1} s)",
        text::path(path),
        r.syscalls.len(),
        r.unresolved.len(),
        r.objects.len(),
        cached,
        r.elapsed_ms as f64 / 1000.0
    );
    for o in &r.objects {
        let _ = writeln!(
            s,
            "  {:<12} {} ({} of {} functions reachable)",
            format!("{:?}", o.role).to_lowercase(),
            text::path(&o.path),
            o.reachable_functions,
            o.functions
        );
    }
    for m in &r.missing_libraries {
        let _ = writeln!(
            s,
            "  MISSING      {} (not found: its syscalls are not counted)",
            text::printable(m)
        );
    }
    for m in &r.not_scanned {
        let _ = writeln!(
            s,
            "  NOT SCANNED  {} (its syscalls are not counted)",
            text::printable(m)
        );
    }
    if r.indirect_calls {
        let _ = writeln!(
            s,
            "  calls through pointers: every function whose address is taken in reachable code \
             or held in data counts as reachable"
        );
    }
    let _ = writeln!(s, "\nreachable:");
    for (name, origins) in &r.syscalls {
        let first = origins.first().map(describe).unwrap_or_default();
        let _ = writeln!(s, "  {name:<24} {first}");
    }
    if !r.i386_syscalls.is_empty() {
        let _ = writeln!(s, "\nreachable through int 0x80 (i386 numbers):");
        for (name, origins) in &r.i386_syscalls {
            let first = origins.first().map(describe).unwrap_or_default();
            let _ = writeln!(s, "  {name:<24} {first}");
        }
    }
    if !r.unresolved.is_empty() {
        let _ = writeln!(s, "\nunresolved sites (any syscall may be made there):");
        for u in &r.unresolved {
            let _ = writeln!(
                s,
                "  {} {:#x} in {}: {}",
                short(&u.object),
                u.address,
                text::printable(&u.function),
                text::printable(&u.reason)
            );
        }
    }
    s
}
