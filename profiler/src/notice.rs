//! What the library tells the user while it works, as values: a
//! capability hands each to the sink its caller gave (a `fn(Notice)`), and
//! `cli/` renders them (`syscall-profile: …` on standard error, the
//! workload's own output on standard output). The library prints nothing.

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
