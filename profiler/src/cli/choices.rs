//! The library's choices ([`Choice`]) offered as clap's possible values:
//! the name a user gives, its line of help, hidden or not.

use clap::builder::PossibleValue;

use crate::choice::Choice;

/// Implements [`clap::ValueEnum`] for each choice type given.
macro_rules! offer {
    ($($choice:ty),* $(,)?) => {
        $(
            impl clap::ValueEnum for $choice {
                fn value_variants<'a>() -> &'a [Self] {
                    <$choice as Choice>::ALL
                }

                fn to_possible_value(&self) -> Option<PossibleValue> {
                    Some(
                        PossibleValue::new(self.name())
                            .help(self.help())
                            .hide(self.hidden()),
                    )
                }
            }
        )*
    };
}

offer!(
    crate::export::Format,
    crate::session::hook::Hook,
    crate::session::Until,
    crate::enforce::DenialWatching,
    crate::cli::diff::Format,
    crate::syscall_args::rules::Granularity,
);
