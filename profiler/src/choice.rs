//! The closed sets of choices the library offers (an export format, the
//! hook that counts, when a run ends, …), each named once with the line a
//! user reads about it, so that the CLI offers them (`cli/choices.rs`)
//! without the library knowing the CLI.

/// A closed set of named choices.
pub(crate) trait Choice: Sized + Copy + 'static {
    /// Every choice, in the order they are offered.
    const ALL: &'static [Self];
    /// The name a user gives (`kubernetes-localhost`).
    fn name(self) -> &'static str;
    /// What it is, in a line (also its documentation).
    fn help(self) -> &'static str;
    /// Accepted but not listed (a choice for the tool's own tests).
    fn hidden(self) -> bool;
}

/// Declares an enum whose variants are choices: `Variant => ("name",
/// "help")`, or `Variant => ("name", "help", hidden)`. The help is the
/// variant's documentation too; other attributes (`#[default]`) pass
/// through.
macro_rules! choice {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $(
                $(#[$vmeta:meta])*
                $variant:ident => ($text:literal, $help:literal $(, $hidden:ident)?)
            ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        $vis enum $name {
            $(
                #[doc = $help]
                $(#[$vmeta])*
                $variant,
            )*
        }

        impl $crate::choice::Choice for $name {
            const ALL: &'static [Self] = &[$($name::$variant),*];

            fn name(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)*
                }
            }

            fn help(self) -> &'static str {
                match self {
                    $($name::$variant => $help,)*
                }
            }

            fn hidden(self) -> bool {
                match self {
                    $($name::$variant => false $(|| stringify!($hidden) == "hidden")?,)*
                }
            }
        }
    };
}

pub(crate) use choice;
