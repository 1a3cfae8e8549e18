//! systemd: a unit drop-in whose `SystemCallFilter=` allows exactly the
//! profile's syscalls. systemd has no argument conditions: a rule with some
//! is refused, or widened (allowed whatever its arguments) on request and
//! said so.

use super::{ExportError, Exported, Options, refuse_docker_filters, rule_names};
use crate::profile::{Action, EPERM, Profile, SyscallSet, errno};

const TARGET: &str = "systemd";

fn unsupported(reason: String) -> ExportError {
    ExportError::Unsupported {
        target: TARGET,
        reason,
    }
}

/// The drop-in (`[Service]` section), to save as
/// `/etc/systemd/system/UNIT.d/seccomp.conf`.
pub fn drop_in(profile: &Profile, options: &Options) -> Result<Exported, ExportError> {
    refuse_docker_filters(profile, TARGET)?;
    let error_number = match profile.default_action {
        Action::Errno => {
            let number = profile.default_errno_ret.unwrap_or(EPERM);
            let name = errno::name(number).ok_or_else(|| {
                unsupported(format!(
                    "the default errno {number} has no name systemd knows"
                ))
            })?;
            Some(name)
        }
        // systemd's own action without SystemCallErrorNumber= kills the process.
        Action::KillProcess | Action::Kill => None,
        other => {
            return Err(unsupported(format!(
                "its default action is {other}; an allow-list in systemd denies with an errno \
                 or kills the process (SCMP_ACT_ERRNO or SCMP_ACT_KILL_PROCESS)"
            )));
        }
    };
    let default_errno = profile.default_errno_ret.unwrap_or(EPERM);
    let mut allowed = SyscallSet::new();
    let mut conditional = Vec::new();
    let mut logged = Vec::new();
    for (at, rule) in profile.syscalls.iter().enumerate() {
        if rule.action.lets_run() {
            if !rule.args.is_empty() {
                conditional.push(format!("rule {} ({})", at + 1, rule_names(rule)));
            }
            if rule.action == Action::Log {
                logged.push(format!("rule {} ({})", at + 1, rule_names(rule)));
            }
            for name in &rule.names {
                allowed.insert(name);
            }
        } else if rule.action != profile.default_action
            || (rule.action == Action::Errno && rule.errno().unwrap_or(EPERM) != default_errno)
        {
            return Err(unsupported(format!(
                "rule {} ({}) denies with {}{} unlike the default; systemd's allow-list has one \
                 way to deny: drop the rule or give it the default's action",
                at + 1,
                rule_names(rule),
                rule.action,
                rule.errno()
                    .map(|e| format!(" ({})", errno::describe(e)))
                    .unwrap_or_default()
            )));
        }
    }
    let mut notes = vec![
        "systemd also allows its @default set whatever the filter (execve, exit, brk, futex, \
         …: `systemd-analyze syscall-filter @default`)"
            .to_owned(),
    ];
    if !conditional.is_empty() {
        if !options.widen {
            return Err(ExportError::NeedsWiden {
                rules: conditional.join(", "),
            });
        }
        notes.push(format!(
            "widened (allowed whatever their arguments): {}",
            conditional.join(", ")
        ));
    }
    if !logged.is_empty() {
        notes.push(format!(
            "allowed without logging (systemd's allow-list does not log): {}",
            logged.join(", ")
        ));
    }
    let names: Vec<&str> = allowed.iter().collect();
    let mut text = String::from(
        "# A seccomp allow-list written by `syscall-profile export --to systemd`.\n\
         # Save it as /etc/systemd/system/UNIT.service.d/seccomp.conf, then\n\
         # `systemctl daemon-reload` and restart the unit. systemd also allows\n\
         # its @default set (`systemd-analyze syscall-filter @default`).\n\
         [Service]\n",
    );
    // One line per name keeps long lists readable; assignments add up.
    for chunk in names.chunks(8) {
        text.push_str(&format!("SystemCallFilter={}\n", chunk.join(" ")));
    }
    text.push_str("SystemCallArchitectures=native\n");
    if let Some(name) = error_number {
        text.push_str(&format!("SystemCallErrorNumber={name}\n"));
    }
    if super::architectures(profile, TARGET)?.len() > 1 {
        notes.push(
            "SystemCallArchitectures=native: calls of the other architectures the profile lists \
             are refused"
                .into(),
        );
    }
    Ok(Exported { text, notes })
}
