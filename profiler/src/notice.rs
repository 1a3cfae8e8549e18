//! What the library tells the user while it works, as values: a
//! capability hands each to the sink its caller gave (a `fn(Notice)`), and
//! `cli/` renders them (`syscall-profile: …` on standard error, the
//! workload's own output on standard output). A run's live view is the
//! same: the library feeds a [`Live`] the command line draws. The library
//! prints nothing.

/// One thing to tell the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// Progress or a note (what was added to a container's command line,
    /// what a run waits for, what is scanned).
    Note(String),
    /// Something the user should know to act on (a replaced option, a
    /// cache that cannot be written).
    Warning(String),
    /// Output of the workload, passed on as it is: a detached `run -d`
    /// prints its container's id, which the tool read.
    Stdout(String),
}

/// Where notices go.
pub(crate) type Sink = fn(Notice);

/// The sink that drops every notice (a library caller's default).
pub(crate) fn nowhere(_: Notice) {}

/// The live view of a recording as it runs: the command line draws it (a
/// line on a terminal with the counts so far); the library only feeds it.
pub(crate) trait Live {
    /// Whether anything is shown: the counters are re-read only then.
    fn is_shown(&self) -> bool;
    /// The counts so far: distinct syscalls and calls.
    fn update(&self, distinct: usize, calls: u64);
    /// Runs `say` (which tells the user something) with the view out of
    /// its way.
    fn suspend(&self, say: &mut dyn FnMut());
    /// The run is over: the view goes.
    fn finish(&self);
}

/// Starts the live view of one run.
pub(crate) type LiveStart = fn() -> Box<dyn Live>;

/// No view at all (a library caller's default, and `--quiet`'s).
pub(crate) fn hidden() -> Box<dyn Live> {
    Box::new(Hidden)
}

struct Hidden;

impl Live for Hidden {
    fn is_shown(&self) -> bool {
        false
    }
    fn update(&self, _: usize, _: u64) {}
    fn suspend(&self, say: &mut dyn FnMut()) {
        say()
    }
    fn finish(&self) {}
}
