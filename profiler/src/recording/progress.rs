//! The live line on a terminal while a recording runs.

use std::{io::IsTerminal, time::Duration};

use console::Term;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle, TermLike};

use super::tracer::Observation;

/// A spinner on standard error with elapsed time, distinct syscalls and total
/// calls; nothing at all when standard error is not a terminal or when asked
/// to be quiet, so logs and pipes stay clean.
pub(super) struct Progress(Option<ProgressBar>);

impl Progress {
    pub(super) fn start(quiet: bool) -> Progress {
        if quiet || !std::io::stderr().is_terminal() {
            return Progress(None);
        }
        let target = ProgressDrawTarget::term_like_with_hz(Box::new(Narrower(Term::stderr())), 10);
        let bar = ProgressBar::with_draw_target(None, target);
        let style = ProgressStyle::with_template("{spinner} recording {elapsed_precise} · {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
        bar.set_style(style);
        bar.set_message("waiting for the first syscall");
        bar.enable_steady_tick(Duration::from_millis(100));
        Progress(Some(bar))
    }

    /// Whether the spinner is shown (and so wants fresh counts).
    pub(super) fn is_shown(&self) -> bool {
        self.0.is_some()
    }

    pub(super) fn update(&self, observation: &Observation) {
        if let Some(bar) = &self.0 {
            bar.set_message(format!(
                "{} distinct syscalls, {} calls",
                observation.distinct(),
                observation.total_calls()
            ));
        }
    }

    /// Runs `f` (which writes a line on standard error) with the live line
    /// out of the way.
    pub(super) fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        match &self.0 {
            Some(bar) => bar.suspend(f),
            None => f(),
        }
    }

    pub(super) fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}

/// Standard error as a terminal a few columns narrower than it is. indicatif
/// pads its line to the terminal's full width; the terminal's own echo of
/// Ctrl-C (`^C`) after a full-width line wraps the cursor onto a new line,
/// and the live line could then no longer be cleared at the end.
#[derive(Debug)]
struct Narrower(Term);

impl TermLike for Narrower {
    fn width(&self) -> u16 {
        self.0.size().1.saturating_sub(4).max(20)
    }
    fn height(&self) -> u16 {
        self.0.size().0
    }
    fn move_cursor_up(&self, n: usize) -> std::io::Result<()> {
        self.0.move_cursor_up(n)
    }
    fn move_cursor_down(&self, n: usize) -> std::io::Result<()> {
        self.0.move_cursor_down(n)
    }
    fn move_cursor_right(&self, n: usize) -> std::io::Result<()> {
        self.0.move_cursor_right(n)
    }
    fn move_cursor_left(&self, n: usize) -> std::io::Result<()> {
        self.0.move_cursor_left(n)
    }
    fn write_line(&self, s: &str) -> std::io::Result<()> {
        self.0.write_line(s)
    }
    fn write_str(&self, s: &str) -> std::io::Result<()> {
        self.0.write_str(s)
    }
    fn clear_line(&self) -> std::io::Result<()> {
        self.0.clear_line()
    }
    fn flush(&self) -> std::io::Result<()> {
        self.0.flush()
    }
}
