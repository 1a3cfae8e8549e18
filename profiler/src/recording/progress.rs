//! The live line on a terminal while a recording runs.

use std::{io::IsTerminal, time::Duration};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::tracer::Observation;

/// A spinner on standard error with elapsed time, distinct syscalls and total
/// calls; nothing at all when standard error is not a terminal or when asked
/// to be quiet, so logs and pipes stay clean.
pub struct Progress(Option<ProgressBar>);

impl Progress {
    pub fn start(quiet: bool) -> Progress {
        if quiet || !std::io::stderr().is_terminal() {
            return Progress(None);
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template("{spinner} recording {elapsed_precise} · {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
        bar.set_style(style);
        bar.set_message("waiting for the first syscall");
        bar.enable_steady_tick(Duration::from_millis(100));
        Progress(Some(bar))
    }

    /// Whether the spinner is shown (and so wants fresh counts).
    pub fn is_shown(&self) -> bool {
        self.0.is_some()
    }

    pub fn update(&self, observation: &Observation) {
        if let Some(bar) = &self.0 {
            bar.set_message(format!(
                "{} distinct syscalls, {} calls",
                observation.distinct(),
                observation.total_calls()
            ));
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}
