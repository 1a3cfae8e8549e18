//! Complain mode (`export --complain`, `record --complain`): the profile
//! with every refusal made `SCMP_ACT_LOG`, for a workload in production
//! that must not break while its profile is tried. Nothing is refused; the
//! kernel writes an audit record (type 1326, SECCOMP) for each call the
//! enforcing profile would have refused, to the audit log or, without
//! auditd, to the kernel log.
//!
//! Refusals are the default action and every rule whose call does not run
//! (`SCMP_ACT_ERRNO`, `SCMP_ACT_KILL*`, `SCMP_ACT_TRAP`, `SCMP_ACT_TRACE`:
//! ENOSYS without a tracer). `SCMP_ACT_NOTIFY` stays: its listener decides,
//! not the profile. Allows and logs stay as they are, argument conditions
//! too: a call outside an allow rule's conditions falls to the default,
//! and is logged.
//!
//! A complain profile says what it is wherever the format has room: the
//! first rule's comment starts with [`MARK`] (Docker's JSON), the resource
//! and the bundle carry an annotation (Kubernetes, an OCI bundle), the
//! drop-in's comment (systemd, [`super::systemd`]); and the export says so
//! in its last line.

use crate::profile::{Action, Profile, errno, rule_names};

/// The tag at the head of a complain profile's first comment.
pub(crate) const MARK: &str = "[complain mode: refuses nothing; calls outside the profile are \
                               logged (SCMP_ACT_LOG)]";
/// The annotation of a complain `SeccompProfile` resource, with [`MODE`].
pub(crate) const KUBERNETES_ANNOTATION: &str = "syscall-profile.io/mode";
/// The annotation of a complain profile's OCI bundle (`config.json`), with
/// [`MODE`].
pub(crate) const OCI_ANNOTATION: &str = "io.syscall-profile.mode";
/// The value of the annotations.
pub(crate) const MODE: &str = "complain";

/// The most rules named in the line that says what was made to log.
const MAX_RULES_SAID: usize = 5;

/// What the kernel does with a logged call, said once for every format.
pub(crate) const LOGGED: &str = "runs, and the kernel writes an audit record of type 1326 \
                                 naming it (syscall=N, code=0x7ffc0000): to the audit log, or \
                                 where no auditd runs to the kernel log (dmesg), which drops \
                                 records past its rate limit";

/// Whether a call under `action` is refused, and so logged in complain
/// mode.
fn refuses(action: Action) -> bool {
    !action.lets_run() && action != Action::Notify
}

/// How a refusal reads: `SCMP_ACT_ERRNO with ENOSYS (38)`.
fn refusal(action: Action, errno_ret: Option<u32>) -> String {
    match action {
        Action::Errno => format!(
            "{action} with {}",
            errno::describe(errno_ret.unwrap_or(crate::profile::EPERM))
        ),
        other => other.to_string(),
    }
}

/// `profile` in complain mode, and the lines that say what changed: the
/// last says the profile refuses nothing.
pub(crate) fn complain(profile: &Profile) -> (Profile, Vec<String>) {
    let mut out = profile.clone();
    let mut notes = Vec::new();
    let mut changed = Vec::new();
    if refuses(out.default_action) {
        changed.push(format!(
            "the default ({})",
            refusal(out.default_action, out.default_errno_ret)
        ));
        out.default_action = Action::Log;
        out.default_errno_ret = None;
    }
    let mut rules = Vec::new();
    let mut notified = Vec::new();
    for (at, rule) in out.syscalls.iter_mut().enumerate() {
        if rule.action == Action::Notify {
            notified.push(format!("rule {} ({})", at + 1, rule_names(rule)));
        }
        if !refuses(rule.action) {
            continue;
        }
        let was = refusal(rule.action, rule.errno_ret);
        rules.push(format!("rule {} ({}): {was}", at + 1, rule_names(rule)));
        let said = format!("[complain mode: was {was}]");
        rule.comment = Some(match rule.comment.take() {
            Some(comment) => format!("{comment} {said}"),
            None => said,
        });
        rule.action = Action::Log;
        rule.errno_ret = None;
    }
    if let Some(first) = out.syscalls.first_mut() {
        let comment = first.comment.take().unwrap_or_default();
        first.comment = Some(match comment.contains(MARK) {
            true => comment,
            false => format!("{MARK} {comment}").trim_end().to_owned(),
        });
    }
    if !rules.is_empty() {
        let count = rules.len();
        let more = count.saturating_sub(MAX_RULES_SAID);
        rules.truncate(MAX_RULES_SAID);
        if more > 0 {
            rules.push(format!("{more} more"));
        }
        changed.push(format!(
            "{count} rule(s) that refused ({})",
            rules.join("; ")
        ));
    }
    if !notified.is_empty() {
        notes.push(format!(
            "complain mode keeps SCMP_ACT_NOTIFY, whose listener decides, not the profile: {}",
            notified.join(", ")
        ));
    }
    let what = match changed.is_empty() {
        true => "the profile refused nothing already".to_owned(),
        false => format!("{}: now SCMP_ACT_LOG", changed.join(" and ")),
    };
    notes.push(format!(
        "complain mode: this profile refuses nothing and does not enforce: {what}; a call \
         outside the profile {LOGGED}. Export without --complain for the enforcing profile"
    ));
    (out, notes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Profile {
        Profile::parse(text.as_bytes()).unwrap().profile
    }

    #[test]
    fn every_refusal_logs_and_the_rest_stays() {
        let profile = parse(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
                "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86"]}],
                "flags": ["SECCOMP_FILTER_FLAG_SPEC_ALLOW"],
                "syscalls": [
                {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW",
                 "comment": "syscalls observed while recording `app` [learned natively]"},
                {"names": ["socket"], "action": "SCMP_ACT_ALLOW",
                 "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]},
                {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
                {"names": ["ptrace"], "action": "SCMP_ACT_KILL_PROCESS"},
                {"names": ["kexec_load"], "action": "SCMP_ACT_TRAP"},
                {"names": ["acct"], "action": "SCMP_ACT_TRACE", "errnoRet": 1},
                {"names": ["mount"], "action": "SCMP_ACT_NOTIFY"},
                {"names": ["uname"], "action": "SCMP_ACT_LOG"}]}"#,
        );
        let (out, notes) = complain(&profile);
        assert_eq!(out.default_action, Action::Log);
        assert_eq!(out.default_errno_ret, None);
        let actions: Vec<Action> = out.syscalls.iter().map(|r| r.action).collect();
        use Action::*;
        assert_eq!(actions, [Allow, Allow, Log, Log, Log, Log, Notify, Log]);
        assert!(out.syscalls.iter().all(|r| r.errno_ret.is_none()));
        // Conditions, architectures and flags are the profile's.
        assert_eq!(out.syscalls[1].args, profile.syscalls[1].args);
        assert_eq!(out.arch_map, profile.arch_map);
        assert_eq!(out.flags, profile.flags);
        // Marked, keeping the origin tag an export for a container reads.
        let first = out.syscalls[0].comment.as_deref().unwrap();
        assert!(
            first.starts_with(MARK) && first.ends_with("[learned natively]"),
            "{first}"
        );
        assert_eq!(
            super::super::runtime_tail::Origin::of(&out),
            super::super::runtime_tail::Origin::Native
        );
        assert_eq!(
            out.syscalls[2].comment.as_deref(),
            Some("[complain mode: was SCMP_ACT_ERRNO with ENOSYS (38)]")
        );
        // Said: what logs now, what stays, and that nothing is enforced.
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert!(notes[0].contains("rule 7 (mount)"), "{notes:?}");
        let last = notes.last().unwrap();
        assert!(
            last.starts_with("complain mode: this profile refuses nothing")
                && last.contains("the default (SCMP_ACT_ERRNO with EPERM (1))")
                && last.contains("4 rule(s) that refused (rule 3 (clone3): SCMP_ACT_ERRNO")
                && last.contains("rule 6 (acct): SCMP_ACT_TRACE"),
            "{last}"
        );
        // What is written reads back as a profile, the same one.
        let again = parse(&out.to_json());
        assert_eq!(again, out);
        // Complain mode twice is complain mode once.
        assert_eq!(complain(&out).0, out);
    }

    #[test]
    fn a_profile_without_rules_logs_by_its_default() {
        let (out, notes) = complain(&parse(r#"{"defaultAction": "SCMP_ACT_KILL_PROCESS"}"#));
        assert_eq!(out.default_action, Action::Log);
        assert!(out.syscalls.is_empty());
        assert!(
            notes[0].contains("the default (SCMP_ACT_KILL_PROCESS)"),
            "{notes:?}"
        );
        let (_, notes) = complain(&parse(r#"{"defaultAction": "SCMP_ACT_ALLOW"}"#));
        assert!(notes[0].contains("refused nothing already"), "{notes:?}");
    }

    #[test]
    fn many_rules_are_counted_past_a_few() {
        let rules: Vec<String> = (0..8)
            .map(|i| format!(r#"{{"names": ["call{i}"], "action": "SCMP_ACT_KILL"}}"#))
            .collect();
        let profile = parse(&format!(
            r#"{{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{}]}}"#,
            rules.join(",")
        ));
        let (_, notes) = complain(&profile);
        assert!(
            notes[0].contains("8 rule(s) that refused") && notes[0].contains("; 3 more)"),
            "{notes:?}"
        );
    }
}
