//! A run or a profile judged against a policy. The judgement of one
//! syscall is [`standing::stand`]: what the policy does with it and what it
//! makes of the observed argument values. `diff` and `check` set a profile
//! against a baseline or a policy with it, and complain mode a run
//! ([`judge_run`]); each only renders the answer.
//!
//! `enforce --complain` and `check -- CMD` record a command in one flow
//! ([`record_judged`]): what the policy would refuse is said as the run
//! makes it ([`WouldRefuse`], the live lines of [`live`]). At the run's
//! end complain mode judges all of it here ([`judge_run`]); `check` sets
//! the profile recorded against the policy (`gating`). The denials the
//! kernel makes under `enforce` are reported in the same terms
//! ([`denial::DeniedSyscall`], the values in [`values`]).

pub(crate) mod denial;
pub(crate) mod live;
pub(crate) mod standing;
pub(crate) mod values;

use std::{
    collections::{BTreeMap, BTreeSet},
    time::Instant,
};

use self::{
    denial::DeniedSyscall,
    live::LiveEvent,
    standing::{Evidence, ValueStanding},
    values::Judged,
};
use crate::{
    profile::eval::{Access, EffectivePolicy},
    record::{self, RecordError, RecordOptions, Recording, stats::SyscallCount},
    syscall_args::CapturedCalls,
};

/// Records `options`' command with what `policy` would refuse said to
/// `say` as the run makes it: the one record-then-judge flow of `enforce
/// --complain` and `check -- CMD`, which judge the recording when it ends.
pub(crate) async fn record_judged(
    options: RecordOptions,
    policy: EffectivePolicy,
    say: &mut dyn FnMut(LiveEvent),
) -> Result<Recording, RecordError> {
    let mut would = WouldRefuse::new(policy, say);
    let mut observer = |observation: &record::tracer::Observation| would.observe(observation);
    record::record_observed(options, Some(&mut observer)).await
}

/// What complain mode makes of a run: the syscalls (and argument values)
/// the profile would have denied, and the syscalls whose conditions it
/// could not check.
pub(crate) struct Judgement {
    pub(crate) denials: Vec<DeniedSyscall>,
    pub(crate) conditional: Vec<String>,
}

/// Sets the run's syscall `counts` (both phases) and captured values
/// (`observed`, by table and number) against `policy`: a syscall it
/// refuses whatever its arguments is denied with all its calls; one it
/// allows only under conditions is denied with the calls whose values it
/// would refuse, judged as the filter would judge them.
pub(crate) fn judge_run<'a>(
    policy: &EffectivePolicy,
    counts: impl IntoIterator<Item = &'a SyscallCount>,
    observed: &BTreeMap<(String, u64), CapturedCalls>,
    warnings: &mut Vec<String>,
) -> Judgement {
    let mut conditional = BTreeSet::new();
    let mut denials: Vec<DeniedSyscall> = Vec::new();
    // A syscall's values are judged once, for both phases together.
    let mut judged = BTreeSet::new();
    for count in counts {
        let values = observed.get(&(count.arch.clone(), count.nr));
        let first_time = judged.insert((count.arch.clone(), count.nr));
        let standing = standing::stand(policy, &count.name, Evidence::Calls(values));
        let (calls, tuples, lost) = match (standing.access, standing.values) {
            (Access::Allowed, _) => continue,
            (Access::Conditional { .. }, None) => {
                conditional.insert(count.name.clone());
                continue;
            }
            (Access::Conditional { .. }, Some(ValueStanding::Judged(Judged::Undecided(why)))) => {
                conditional.insert(format!("{} ({why})", count.name));
                continue;
            }
            (
                Access::Conditional { .. },
                Some(ValueStanding::Judged(Judged::Decided { refused, unknown })),
            ) => {
                if !first_time {
                    continue;
                }
                if unknown > 0 {
                    warnings.push(format!(
                        "{unknown} call(s) of {} passed values the kernel found no \
                         room to keep: complain mode could not check them against \
                         the profile's conditions",
                        count.name
                    ));
                }
                if refused.is_empty() {
                    continue;
                }
                let calls = refused.iter().map(|r| r.1).sum();
                let tuples: Vec<(Vec<u64>, u64)> =
                    refused.into_iter().map(|(t, n, _)| (t, n)).collect();
                (calls, tuples, unknown)
            }
            (Access::Denied(_), Some(ValueStanding::Refused(kept))) if first_time => {
                (count.count, kept.values.into_iter().collect(), kept.lost)
            }
            (Access::Denied(_), _) => (count.count, Vec::new(), 0),
            // Never stood on a run's calls: a comparison is of a
            // profile's conditions, and a syscall allowed under
            // conditions is not refused outright.
            (
                Access::Conditional { .. },
                Some(ValueStanding::Compared(_) | ValueStanding::Refused(_)),
            ) => continue,
        };
        let index = match denials.iter().position(|d| d.name == count.name) {
            Some(index) => {
                denials[index].count += calls;
                index
            }
            None => {
                denials.push(DeniedSyscall::new(
                    count.name.clone(),
                    count.arch.clone(),
                    count.nr as i64,
                    calls,
                ));
                denials.len() - 1
            }
        };
        let denial = &mut denials[index];
        if let Some(captured) = crate::syscall_args::captured(&count.name)
            && (!tuples.is_empty() || lost > 0)
        {
            let mut all: Vec<(Vec<u64>, u64)> =
                denial.values.iter().map(|v| (v.tuple(), v.count)).collect();
            all.extend(tuples);
            denial.values = values::denied_values(captured, all);
            denial.values_lost += lost;
        }
    }
    Judgement {
        denials,
        conditional: conditional.into_iter().collect(),
    }
}

/// The captured values of a recording, both phases together, by table
/// (its short name, as the statistics give it) and number.
pub(crate) fn observed_values(
    observation: &record::tracer::Observation,
) -> BTreeMap<(String, u64), CapturedCalls> {
    let mut out: BTreeMap<(String, u64), CapturedCalls> = BTreeMap::new();
    let phases = observation
        .arguments
        .iter()
        .chain(&observation.runtime_arguments);
    for ((arch, nr), calls) in phases {
        let merged = out.entry((arch.short_name().to_owned(), *nr)).or_default();
        for (tuple, count) in &calls.values {
            *merged.values.entry(tuple.clone()).or_default() += count;
        }
        merged.lost += calls.lost;
    }
    out
}

/// What a profile would refuse of a recording's counts so far, handed to
/// `say` as it is seen (each syscall and argument value once, no retry
/// loops: nothing was refused): `enforce --complain` and `check -- CMD`.
/// The calls are judged as the final report judges them.
struct WouldRefuse<'a> {
    policy: EffectivePolicy,
    said: live::LiveDenials,
    say: &'a mut dyn FnMut(LiveEvent),
}

impl<'a> WouldRefuse<'a> {
    fn new(policy: EffectivePolicy, say: &'a mut dyn FnMut(LiveEvent)) -> WouldRefuse<'a> {
        WouldRefuse {
            policy,
            said: live::LiveDenials::new_only(),
            say,
        }
    }

    /// Judges the counts so far; says what is new.
    fn observe(&mut self, observation: &record::tracer::Observation) {
        let (mut counts, _) = record::count_entries(&observation.calls);
        counts.extend(record::count_entries(&observation.runtime_calls).0);
        let observed = observed_values(observation);
        // A warning of values the kernel found no room for is the final
        // report's to give.
        let judged = judge_run(&self.policy, &counts, &observed, &mut Vec::new());
        for event in self.said.update(&judged.denials, Instant::now()) {
            (self.say)(event);
        }
    }
}
