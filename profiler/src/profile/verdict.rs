//! What a filter does to one call.

use super::{Action, EPERM};

/// What a filter does to one call: its action and, for `SCMP_ACT_ERRNO`,
/// the errno.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Verdict {
    pub action: Action,
    pub errno: Option<u32>,
}

impl Verdict {
    pub(crate) const ALLOW: Verdict = Verdict {
        action: Action::Allow,
        errno: None,
    };

    /// The verdict of an action with an optional `errnoRet` (EPERM when an
    /// `SCMP_ACT_ERRNO` gives none, as runc and crun default it).
    pub(crate) fn of(action: Action, errno_ret: Option<u32>) -> Verdict {
        let errno = match action {
            Action::Errno => Some(errno_ret.unwrap_or(EPERM)),
            _ => None,
        };
        Verdict { action, errno }
    }

    /// Whether the call runs (`SCMP_ACT_LOG` runs it too).
    pub fn runs(self) -> bool {
        self.action.lets_run()
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.action, self.errno) {
            (Action::Allow, _) => f.write_str("allowed"),
            (Action::Errno, Some(errno)) => {
                write!(f, "denied with {}", super::errno::describe(errno))
            }
            (action, _) => write!(f, "{action}"),
        }
    }
}
