//! `enforce --complain`: the command recorded instead of blocked, and the
//! recording judged against the profile.

use super::*;
use crate::judge::{self, Judgement, judge_run, observed_values};

/// `--complain`: record the command, then set what it did against the
/// profile. Nothing is blocked.
pub(super) async fn complain(
    options: EnforceOptions,
    profile: &Profile,
    arch: Arch,
    profile_warnings: Vec<String>,
    say: &mut dyn FnMut(LiveEvent),
) -> Result<Enforcement, EnforceError> {
    let suggest = Output::prepare_if_given(options.suggest.as_deref())?;
    let mut record_options = RecordOptions::new(options.command.clone());
    record_options.discard_profile = true;
    record_options.quiet = options.quiet;
    record_options.user = options.user.clone();
    record_options.until = options.until;
    record_options.duration = options.duration;
    record_options.say = options.say;
    record_options.live = options.live;
    // Only what the command did: names it never called are no denials.
    record_options.no_implied = true;
    // What the profile gives each syscall in the context the command runs
    // in: a container's capabilities as its engine sets them, or the
    // program's own.
    let engine_default = crate::engine::engine_of_command(&options.command)
        .map(|(engine, version)| Baseline::for_engine(engine, version.as_deref()));
    let context = run_context(&options, arch, engine_default.as_ref())?;
    let policy = EffectivePolicy::evaluate(profile, &context);
    let recording = judge::record_judged(record_options, policy.clone(), say).await?;
    let observed = observed_values(&recording.observation);
    let mut warnings = profile_warnings;
    warnings.extend(recording.warnings);
    let counts = recording
        .stats
        .syscalls
        .iter()
        .chain(&recording.stats.runtime_syscalls);
    let Judgement {
        mut denials,
        conditional,
    } = judge_run(&policy, counts, &observed, &mut warnings);
    // Runtime base names the recording merged in were not observed, but
    // the runtime needs them: said apart.
    let base_denied: Vec<String> = recording
        .runtime
        .iter()
        .flat_map(|r| r.added_by_base.iter())
        .filter(|name| matches!(policy.access(name), Access::Denied(_)))
        .filter(|name| !denials.iter().any(|d| d.name == *name))
        .map(str::to_owned)
        .collect();
    denials.sort_by(|a, b| a.name.cmp(&b.name));
    denial::explain(&mut denials, &policy);
    let mut additions = Additions::of(&denials);
    for name in &base_denied {
        additions.names.insert(name.as_str());
    }
    let suggestion = match suggest {
        Some(output) if !additions.is_empty() => Some(write_suggestion(
            output, profile, arch, &additions, &options,
        )?),
        _ => None,
    };
    Ok(Enforcement {
        exit_code: recording.exit_code,
        denials,
        conditional,
        base_denied,
        suggestion,
        escapes: recording.observation.events.escapes.clone(),
        warnings,
        complain: true,
        engine_default: engine_default.map(|b| b.describe()),
        outlived: recording.outlived.clone(),
        guardian: Some(recording.guardian),
        retry_loops: Vec::new(),
        own_listener_refused: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{profile::KernelVersion, record::stats::SyscallCount, syscall_args::CapturedCalls};
    use std::collections::BTreeMap;

    fn policy(rules: serde_json::Value) -> EffectivePolicy {
        let text = serde_json::json!({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": rules});
        let profile: Profile = serde_json::from_value(text).unwrap();
        let context = DockerContext {
            native: Arch::X86_64,
            caps: Default::default(),
            kernel: KernelVersion {
                major: 6,
                minor: 18,
            },
        };
        EffectivePolicy::evaluate(&profile, &context)
    }

    fn count(name: &str, nr: u64, count: u64) -> SyscallCount {
        SyscallCount {
            name: name.to_owned(),
            arch: "x86_64".to_owned(),
            nr,
            count,
        }
    }

    /// Calls of one syscall: its number, each tuple with its count, and
    /// the calls whose values were lost.
    type Observed<'a> = (u64, &'a [(&'a [u64], u64)], u64);

    fn observed(entries: &[Observed<'_>]) -> BTreeMap<(String, u64), CapturedCalls> {
        entries
            .iter()
            .map(|(nr, values, lost)| {
                let calls = CapturedCalls {
                    values: values.iter().map(|(t, n)| (t.to_vec(), *n)).collect(),
                    lost: *lost,
                };
                (("x86_64".to_owned(), *nr), calls)
            })
            .collect()
    }

    /// The run's values against the profile's conditions: a refused value
    /// is a denial with its calls (once, though both phases counted the
    /// syscall), an allowed one is none; a syscall refused outright keeps
    /// all its values, for the suggestion; conditions on what is not kept
    /// leave the syscall unchecked, with the reason.
    #[test]
    fn complain_judges_each_tuple_as_the_filter_would() {
        let policy = policy(serde_json::json!([
            {"names": ["ioctl"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 1, "value": 0x541b, "op": "SCMP_CMP_EQ"}]},
            {"names": ["fcntl"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 3, "op": "SCMP_CMP_EQ"}]},
            {"names": ["read"], "action": "SCMP_ACT_ALLOW"},
        ]));
        let counts = [
            count("read", 0, 9),
            count("ioctl", 16, 5),
            count("ioctl", 16, 2), // the runtime phase
            count("socket", 41, 1),
            count("fcntl", 72, 4),
        ];
        let observed = observed(&[
            (16, &[(&[0x541b], 4), (&[0x5412], 3)], 0),
            (41, &[(&[40, 1, 0], 1)], 0),
            (72, &[(&[1], 4)], 0),
        ]);
        let mut warnings = Vec::new();
        let judged = judge_run(&policy, &counts, &observed, &mut warnings);
        let names: Vec<&str> = judged.denials.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["ioctl", "socket"]);
        let ioctl = &judged.denials[0];
        assert_eq!(ioctl.count, 3, "the TIOCSTI calls only");
        assert_eq!(ioctl.values.len(), 1);
        assert_eq!(ioctl.values[0].tuple(), [0x5412]);
        assert_eq!(ioctl.values[0].count, 3);
        let socket = &judged.denials[1];
        assert_eq!(
            (socket.count, socket.values[0].tuple()),
            (1, vec![40, 1, 0])
        );
        assert_eq!(judged.conditional.len(), 1);
        assert!(
            judged.conditional[0].starts_with("fcntl (a condition on argument 0"),
            "{:?}",
            judged.conditional
        );
        assert!(warnings.is_empty());

        // Suggested: the refused values, as argument rules.
        let additions = Additions::of(&judged.denials);
        assert!(additions.names.is_empty());
        assert_eq!(additions.rules.len(), 2);
        assert_eq!(
            additions.rules[0].comment.as_deref(),
            Some("ioctl: TIOCSTI")
        );

        // Values the kernel found no room for: said, and the syscall is then
        // suggested whole.
        let observed = self::observed(&[(16, &[(&[0x5412], 1)], 6)]);
        let judged = judge_run(&policy, &counts[1..2], &observed, &mut warnings);
        assert_eq!(judged.denials[0].values_lost, 6);
        assert!(warnings[0].contains("6 call(s) of ioctl"), "{warnings:?}");
        let additions = Additions::of(&judged.denials);
        assert!(additions.names.contains("ioctl") && additions.rules.is_empty());
    }
}
