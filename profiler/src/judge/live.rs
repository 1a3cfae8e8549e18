//! What `enforce` says while the command runs, whatever standard error is:
//! each syscall (and each argument value) refused for the first time, and a
//! refused call repeated without end (a retry loop), with its rate.
//!
//! Both watches feed the same path: every tick, the denials counted so far
//! (the eBPF watch's map, the seccomp listener's tallies) go through
//! [`LiveDenials::update`], which turns what changed into [`LiveEvent`]s
//! for the CLI to say. Nothing here prints.
//!
//! A retry loop is one refused syscall whose count grew by at least
//! [`LOOP_RATE`] a second at every tick for [`LOOP_AFTER`]: a program that
//! hits a refusal now and then never reaches that, one that retries the
//! call at once (memcached's `poll`, refused: ten million times in ten
//! minutes) does within seconds. It is said once, and again at most every
//! [`LOOP_REPEAT`] while it goes on, so a loop cannot flood the output.

use std::{
    collections::{BTreeMap, BTreeSet},
    time::{Duration, Instant},
};

use super::denial::{Caller, DeniedSyscall, Kill};

/// The refusals a second, sustained, that make a retry loop.
pub(crate) const LOOP_RATE: u64 = 1_000;
/// How long the rate must hold before the loop is said.
pub(crate) const LOOP_AFTER: Duration = Duration::from_secs(3);
/// The least time between two lines about one loop.
pub(crate) const LOOP_REPEAT: Duration = Duration::from_secs(60);
/// Ticks closer than this are not a measure of a rate (a late tick and
/// the one that catches up): the next tick measures over both.
const MIN_SPAN: Duration = Duration::from_millis(100);

/// Something to say while the command runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LiveEvent {
    /// A syscall, or one of its argument values, refused for the first
    /// time.
    Denied(NewDenial),
    /// One refused syscall repeated at a sustained rate.
    RetryLoop(RetryLoop),
}

/// A syscall (or argument value) refused for the first time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NewDenial {
    pub name: String,
    /// Its table (`x86_64`, `i386`).
    pub arch: String,
    /// The refused values, named (`request TIOCSTI`), for a syscall whose
    /// privilege is in an argument.
    pub values: Option<String>,
    /// The first process it was refused to, where known.
    pub caller: Option<Caller>,
    /// Where the refusal killed the caller.
    pub killed: Option<Kill>,
}

/// A refused syscall the program keeps making.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub(crate) struct RetryLoop {
    pub name: String,
    pub arch: String,
    /// Refusals counted over `seconds`, while the rate held.
    pub count: u64,
    /// How long the rate has held, in seconds (at least [`LOOP_AFTER`]).
    pub seconds: u64,
    /// `count` over the time it took, a second.
    pub per_second: u64,
    /// Every refusal of the syscall so far.
    pub total: u64,
    /// Whether the loop was said before (this is a reminder).
    #[serde(skip)]
    pub again: bool,
    /// The first process it was refused to, where known.
    #[serde(skip)]
    pub caller: Option<Caller>,
}

/// A denial's identity across ticks: name, table, and whether it killed.
type Key = (String, String, bool);

/// How one refused syscall's count went.
struct Rate {
    /// The count at the last measuring tick.
    last: (Instant, u64),
    /// Since when (and from which count) the rate has held.
    streak: Option<(Instant, u64)>,
    /// When the loop was last said.
    said: Option<Instant>,
}

/// What was said so far, and the rates of the refused syscalls.
#[derive(Default)]
pub(crate) struct LiveDenials {
    shown: BTreeSet<(Key, Vec<u64>)>,
    rates: BTreeMap<Key, Rate>,
    /// The latest line said of each loop, for the final report.
    loops: BTreeMap<Key, RetryLoop>,
    /// No loops are looked for: the calls were not refused (a recording
    /// judged against a profile), so repeating one is no retry loop.
    no_loops: bool,
}

impl LiveDenials {
    /// For the calls a profile would refuse in a run that refuses
    /// nothing: only what is new is said.
    pub(crate) fn new_only() -> LiveDenials {
        LiveDenials {
            no_loops: true,
            ..LiveDenials::default()
        }
    }

    /// What changed since the last call, given every denial so far (as
    /// the watches count them: counts only grow) at `now`.
    pub(crate) fn update(&mut self, denials: &[DeniedSyscall], now: Instant) -> Vec<LiveEvent> {
        let mut events = Vec::new();
        for denial in denials {
            let key: Key = (
                denial.name.clone(),
                denial.arch.clone(),
                denial.killed.is_some(),
            );
            let new = |values: Option<String>| {
                LiveEvent::Denied(NewDenial {
                    name: denial.name.clone(),
                    arch: denial.arch.clone(),
                    values,
                    caller: denial.first.clone(),
                    killed: denial.killed,
                })
            };
            if denial.values.is_empty() {
                if self.shown.insert((key.clone(), Vec::new())) {
                    events.push(new(None));
                }
            } else {
                for values in &denial.values {
                    if self.shown.insert((key.clone(), values.tuple())) {
                        events.push(new(Some(values.describe())));
                    }
                }
            }
            if self.no_loops {
                continue;
            }
            if let Some(found) = self.measure(&key, denial, now) {
                self.loops.insert(key, found.clone());
                events.push(LiveEvent::RetryLoop(found));
            }
        }
        events
    }

    /// The loops said during the run, the latest line of each.
    pub(crate) fn loops(&self) -> Vec<RetryLoop> {
        self.loops.values().cloned().collect()
    }

    /// The rate of `denial` at `now`: a loop to say, if it is one and due.
    fn measure(&mut self, key: &Key, denial: &DeniedSyscall, now: Instant) -> Option<RetryLoop> {
        let count = denial.count;
        let Some(rate) = self.rates.get_mut(key) else {
            // Refusals from before its first sight are of unknown time.
            self.rates.insert(
                key.clone(),
                Rate {
                    last: (now, count),
                    streak: None,
                    said: None,
                },
            );
            return None;
        };
        let span = now.saturating_duration_since(rate.last.0);
        if span < MIN_SPAN {
            return None;
        }
        let grown = count.saturating_sub(rate.last.1);
        let fast = u128::from(grown) * 1000 >= u128::from(LOOP_RATE) * span.as_millis();
        rate.streak = if fast {
            Some(rate.streak.unwrap_or(rate.last))
        } else {
            None
        };
        rate.last = (now, count);
        let (since, from) = rate.streak?;
        let held = now.saturating_duration_since(since);
        let due = rate
            .said
            .is_none_or(|at| now.duration_since(at) >= LOOP_REPEAT);
        if held < LOOP_AFTER || !due {
            return None;
        }
        let again = rate.said.is_some();
        rate.said = Some(now);
        let count = count.saturating_sub(from);
        let millis = held.as_millis().max(1);
        Some(RetryLoop {
            name: denial.name.clone(),
            arch: denial.arch.clone(),
            count,
            seconds: held.as_secs(),
            per_second: u64::try_from(u128::from(count) * 1000 / millis).unwrap_or(u64::MAX),
            total: denial.count,
            again,
            caller: denial.first.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn denial(name: &str, count: u64) -> DeniedSyscall {
        DeniedSyscall::new(name.to_owned(), "x86_64".to_owned(), 7, count)
    }

    fn loops(events: &[LiveEvent]) -> Vec<&RetryLoop> {
        events
            .iter()
            .filter_map(|e| match e {
                LiveEvent::RetryLoop(l) => Some(l),
                LiveEvent::Denied(_) => None,
            })
            .collect()
    }

    /// Feeds `per_tick` more refusals of poll every 250 ms for `ticks`
    /// ticks from `start`; every event said.
    fn feed(
        live: &mut LiveDenials,
        start: Instant,
        from: u64,
        per_tick: u64,
        ticks: u32,
    ) -> Vec<LiveEvent> {
        (0..ticks)
            .flat_map(|i| {
                let count = from + per_tick * u64::from(i);
                live.update(
                    &[denial("poll", count)],
                    start + Duration::from_millis(250) * i,
                )
            })
            .collect()
    }

    /// A new syscall is said once; a loop once after LOOP_AFTER, with the
    /// count and rate over the streak, and again only after LOOP_REPEAT.
    #[test]
    fn a_loop_is_said_once_then_at_most_once_an_interval() {
        let mut live = LiveDenials::default();
        let start = Instant::now();
        // 5,000 a tick: 20,000/s, for 70 s.
        let events = feed(&mut live, start, 1, 5_000, 280);
        let denied = events
            .iter()
            .filter(|e| matches!(e, LiveEvent::Denied(_)))
            .count();
        assert_eq!(denied, 1);
        let said = loops(&events);
        assert_eq!(said.len(), 2, "{said:?}");
        assert!(!said[0].again && said[1].again);
        assert_eq!(said[0].seconds, 3);
        assert_eq!(said[0].count, 60_000);
        assert_eq!(said[0].per_second, 20_000);
        assert!(said[1].seconds >= 63);
        assert_eq!(live.loops().len(), 1);
    }

    /// Refusals now and then, or a burst shorter than LOOP_AFTER, or a
    /// rate below LOOP_RATE, are no loop; a pause ends a streak.
    #[test]
    fn no_loop_without_a_sustained_rate() {
        let start = Instant::now();
        let mut live = LiveDenials::default();
        // 200 a tick: 800/s.
        assert!(loops(&feed(&mut live, start, 1, 200, 40)).is_empty());
        let mut live = LiveDenials::default();
        // 2.5 s fast, a tick without a refusal, 2.5 s fast.
        let mut events = feed(&mut live, start, 1, 5_000, 11);
        let paused = start + Duration::from_millis(250 * 11);
        events.extend(live.update(&[denial("poll", 50_001)], paused));
        events.extend(feed(
            &mut live,
            paused + Duration::from_millis(250),
            50_001 + 5_000,
            5_000,
            10,
        ));
        assert!(loops(&events).is_empty(), "{events:?}");
        // A tick right after another measures nothing: it cannot break
        // the streak.
        let mut live = LiveDenials::default();
        let mut events = feed(&mut live, start, 1, 5_000, 8);
        let t = start + Duration::from_millis(250 * 7) + Duration::from_millis(1);
        events.extend(live.update(&[denial("poll", 35_001)], t));
        events.extend(feed(
            &mut live,
            start + Duration::from_millis(250 * 8),
            40_001,
            5_000,
            8,
        ));
        assert_eq!(loops(&events).len(), 1, "{events:?}");
    }

    /// Each refused value is said once, as the syscall is.
    #[test]
    fn each_refused_value_is_said_once() {
        let captured = crate::syscall_args::captured("ioctl").unwrap();
        let mut ioctl = denial("ioctl", 2);
        ioctl.values = crate::judge::values::denied_values(captured, vec![(vec![0x5412], 2)]);
        let mut live = LiveDenials::default();
        let now = Instant::now();
        assert_eq!(live.update(std::slice::from_ref(&ioctl), now).len(), 1);
        assert!(live.update(std::slice::from_ref(&ioctl), now).is_empty());
        ioctl.values = crate::judge::values::denied_values(
            captured,
            vec![(vec![0x5412], 2), (vec![0x541b], 1)],
        );
        let events = live.update(&[ioctl], now);
        let [LiveEvent::Denied(new)] = events.as_slice() else {
            panic!("{events:?}");
        };
        assert_eq!(new.values.as_deref(), Some("request FIONREAD (0x541b)"));
    }
}
