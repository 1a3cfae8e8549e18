//! The live line on a terminal while a recording runs: the command line's
//! [`Live`] view.

use std::{io::IsTerminal, time::Duration};

use console::Term;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle, TermLike};

use crate::notice::{self, Live};

/// A spinner on standard error with elapsed time, distinct syscalls and total
/// calls; nothing at all when standard error is not a terminal, so logs and
/// pipes stay clean.
struct Spinner(ProgressBar);

/// The view of a run: the spinner on a terminal, else nothing.
pub(super) fn start() -> Box<dyn Live> {
    if !std::io::stderr().is_terminal() {
        return notice::hidden();
    }
    let target = ProgressDrawTarget::term_like_with_hz(Box::new(Narrower(Term::stderr())), 10);
    let bar = ProgressBar::with_draw_target(None, target);
    let style = ProgressStyle::with_template("{spinner} recording {elapsed_precise} · {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner());
    bar.set_style(style);
    bar.set_message("waiting for the first syscall");
    bar.enable_steady_tick(Duration::from_millis(100));
    Box::new(Spinner(bar))
}

impl Live for Spinner {
    fn is_shown(&self) -> bool {
        true
    }

    fn update(&self, distinct: usize, calls: u64) {
        self.0
            .set_message(format!("{distinct} distinct syscalls, {calls} calls"));
    }

    fn suspend(&self, say: &mut dyn FnMut()) {
        self.0.suspend(say)
    }

    fn finish(&self) {
        self.0.finish_and_clear();
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
