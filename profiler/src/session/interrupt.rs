//! A request to stop, for the steps that run after a supervised command
//! has ended or without one (a scan, an image's export): SIGINT, SIGTERM
//! and SIGHUP set it, and the step, which looks every few milliseconds,
//! ends in good order. Without it those signals would do nothing once a
//! run's own handlers are gone (a handler, once installed, stays).

use std::{
    io,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
};

use signal_hook::SigId;

use super::process::FORWARDED_SIGNALS;

/// Set by the first of [`FORWARDED_SIGNALS`] that comes while it lives.
#[derive(Debug, Clone)]
pub struct Interrupt(Arc<Caught>);

#[derive(Debug)]
struct Caught {
    signal: Arc<AtomicUsize>,
    ids: Vec<SigId>,
}

impl Drop for Caught {
    fn drop(&mut self) {
        for id in &self.ids {
            signal_hook::low_level::unregister(*id);
        }
    }
}

impl Interrupt {
    /// Starts catching the signals.
    pub(crate) fn catch() -> io::Result<Interrupt> {
        let signal = Arc::new(AtomicUsize::new(0));
        let mut ids = Vec::new();
        for number in FORWARDED_SIGNALS {
            ids.push(signal_hook::flag::register_usize(
                number,
                Arc::clone(&signal),
                number as usize,
            )?);
        }
        Ok(Interrupt(Arc::new(Caught { signal, ids })))
    }

    /// The signal that came, if one did.
    pub(crate) fn signal(&self) -> Option<i32> {
        match self.0.signal.load(Ordering::SeqCst) {
            0 => None,
            n => i32::try_from(n).ok(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signal_sets_it() {
        let interrupt = Interrupt::catch().expect("catch");
        assert_eq!(interrupt.signal(), None);
        // SAFETY: raise(3) sends the signal to this thread; it is caught.
        assert_eq!(unsafe { libc::raise(libc::SIGHUP) }, 0);
        assert_eq!(interrupt.signal(), Some(libc::SIGHUP));
    }
}
