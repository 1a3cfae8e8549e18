//! The drop-in in complain mode: `SystemCallLog=` with the inverted list,
//! which has the kernel log (`SCMP_ACT_LOG`) every syscall not listed and
//! run it; no `SystemCallFilter=`. The list is what the enforcing drop-in's
//! `SystemCallFilter=` lets run by name: the profile's allowed syscalls
//! and systemd's `@default` set (by its group name, so it is the running
//! systemd's, as the filter's is). A name only an `SCMP_ACT_LOG` rule lets
//! run is logged, as the profile says. (systemd 247 and later have
//! `SystemCallLog=`; checked with systemd 252 in nspawn:
//! `tests/complain.rs`.)
//!
//! What the enforcing drop-in refuses by other means cannot be logged:
//! `SystemCallArchitectures=` and the directives
//! that keep argument conditions (`RestrictNamespaces=`,
//! `RestrictAddressFamilies=`, `LockPersonality=`,
//! `MemoryDenyWriteExecute=`) are left out, named in the drop-in and said.

use std::collections::BTreeSet;

use super::Exported;
use crate::export::complain::LOGGED;

/// The complain drop-in: `listed` not logged, everything else logged;
/// `widened` the comments of names no longer checked by their arguments,
/// `left_out` the settings of the enforcing drop-in that refuse; `notes`
/// what was said so far, to which the complain line is added.
pub(super) fn drop_in(
    listed: &BTreeSet<&str>,
    widened: &[String],
    left_out: &[String],
    mut notes: Vec<String>,
) -> Exported {
    let mut text = String::from(
        "# A complain-mode seccomp drop-in written by `syscall-profile export --to systemd\n\
         # --complain`. It refuses nothing: SystemCallLog= has the kernel log every\n\
         # syscall outside the profile and systemd's @default set (audit record type\n\
         # 1326, SCMP_ACT_LOG), and the call runs. Not for enforcement: export without\n\
         # --complain for the drop-in that refuses.\n\
         # Save it as /etc/systemd/system/UNIT.service.d/seccomp.conf, then\n\
         # `systemctl daemon-reload` and restart the unit.\n\
         [Service]\n\
         SystemCallLog=~@default\n",
    );
    let names: Vec<&str> = listed.iter().copied().collect();
    for chunk in names.chunks(8) {
        text.push_str(&format!("SystemCallLog=~{}\n", chunk.join(" ")));
    }
    for note in widened {
        text.push_str(&format!("# {note}\n"));
    }
    text.push_str(
        "# Left out, as they refuse and systemd cannot log what they refuse (a call only\n\
         # they would refuse runs unlogged):\n",
    );
    for setting in left_out {
        text.push_str(&format!("#   {setting}\n"));
    }
    notes.push(format!(
        "complain mode: this drop-in refuses nothing and does not enforce: a call whose name \
         the enforcing drop-in would refuse {LOGGED} (SystemCallLog=); left out, as they \
         refuse and systemd cannot log what they refuse (a call only they would refuse runs \
         unlogged): {}. Export without --complain for the enforcing drop-in",
        left_out.join(", ")
    ));
    Exported { text, notes }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{export_with, settings};
    use super::super::*;

    #[test]
    fn logs_what_the_filter_would_refuse_and_refuses_nothing() {
        let rules = r#", {"names": ["socket"], "action": "SCMP_ACT_ALLOW",
            "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]},
            {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
            {"names": ["uname"], "action": "SCMP_ACT_LOG"},
            {"names": ["getcwd"], "action": "SCMP_ACT_LOG"},
            {"names": ["read"], "action": "SCMP_ACT_LOG",
             "args": [{"index": 0, "value": 7, "op": "SCMP_CMP_EQ"}]}"#;
        let enforcing = export_with(rules, false, false).unwrap();
        let complain = export_with(rules, false, true).unwrap();
        assert!(
            settings(&enforcing).contains(&"RestrictAddressFamilies=AF_UNIX"),
            "{}",
            enforcing.text
        );
        // clone3 (refused), uname and getcwd (logged by the profile) are
        // logged; read, allowed by a rule of its own too, is not.
        assert_eq!(
            settings(&complain),
            [
                "[Service]",
                "SystemCallLog=~@default",
                "SystemCallLog=~exit_group read socket write",
            ],
            "{}",
            complain.text
        );
        assert!(
            complain.text.contains(
                "# Left out, as they refuse and systemd cannot log what they refuse (a call \
                 only\n# they would refuse runs unlogged):\n#   SystemCallArchitectures=native\n\
                 #   RestrictNamespaces=yes\n\
                 #   RestrictAddressFamilies=AF_UNIX\n#   LockPersonality=yes\n\
                 #   MemoryDenyWriteExecute=yes\n"
            ),
            "{}",
            complain.text
        );
        assert!(
            complain
                .text
                .starts_with("# A complain-mode seccomp drop-in"),
            "{}",
            complain.text
        );
        let last = complain.notes.last().unwrap();
        assert!(
            last.starts_with("complain mode: this drop-in refuses nothing")
                && last.contains(
                    "unlogged): SystemCallArchitectures=native, RestrictNamespaces=yes, RestrictAddressFamilies=AF_UNIX, \
                     LockPersonality=yes, MemoryDenyWriteExecute=yes."
                ),
            "{last}"
        );
        assert!(
            !complain
                .notes
                .iter()
                .any(|n| n.contains("allowed without logging") || n.contains("also allows")),
            "{:?}",
            complain.notes
        );
    }

    #[test]
    fn what_the_enforcing_drop_in_refuses_to_write_complain_mode_refuses_too() {
        // Conditions no directive keeps, beyond a strict default: neither
        // drop-in is written without --widen, which both take.
        let rules = r#", {"names": ["fcntl"], "action": "SCMP_ACT_ALLOW",
            "args": [{"index": 1, "value": 5, "op": "SCMP_CMP_EQ"}]}"#;
        let options = |complain| Options {
            within: Some(super::super::tests::strict_default()),
            complain,
            ..Options::default()
        };
        let profile = super::super::tests::profile(rules);
        for complain in [false, true] {
            assert!(matches!(
                drop_in(&profile, &options(complain)),
                Err(ExportError::NeedsWiden { .. })
            ));
        }
        let widened = export_with(rules, true, true).unwrap();
        assert!(
            settings(&widened).contains(&"SystemCallLog=~exit_group fcntl read write"),
            "{}",
            widened.text
        );
    }
}
