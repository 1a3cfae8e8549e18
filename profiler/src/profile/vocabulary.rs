//! The closed vocabularies of seccomp profiles (architectures, actions,
//! operators, capabilities, filter flags), each declared once, as a table:
//! a row per value holds every name it has (the profile's, the kernel's,
//! libseccomp's) and what else the tool must know of it (a capability's
//! kernel bit, a flag's bit in seccomp(2)). The enum, its list of values,
//! its names and its serde and parsing come from the table.

/// Declares a vocabulary: `enum NAME: INFO, "what it is called" { Variant
/// => INFO { name: "…", … }, … }`. Every `INFO` has a `name`: the spelling
/// in profiles, which serde reads and writes and errors quote.
macro_rules! vocabulary {
    (
        $(#[$meta:meta])*
        pub enum $name:ident: $info:ty, $what:literal {
            $( $(#[$vmeta:meta])* $variant:ident => $row:expr, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// Every value, in the table's order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// A row per value, in the order of [`Self::ALL`].
            const TABLE: &'static [$info] = &[$($row),+];

            /// What the table says of this value.
            pub fn info(self) -> &'static $info {
                &Self::TABLE[self as usize]
            }

            /// The name profiles spell it with.
            pub fn scmp_name(self) -> &'static str {
                self.info().name
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;

            fn from_str(text: &str) -> Result<Self, String> {
                Self::ALL
                    .iter()
                    .copied()
                    .find(|value| value.scmp_name() == text)
                    .ok_or_else(|| {
                        let accepted: Vec<&str> =
                            Self::ALL.iter().map(|value| value.scmp_name()).collect();
                        format!("unknown {} {text:?}; accepted: {}", $what, accepted.join(", "))
                    })
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.scmp_name())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                $crate::profile::rule::deserialize_named(deserializer, $what, Self::ALL, $name::scmp_name)
            }
        }
    };
}

/// A row of a vocabulary that has only its name.
#[derive(Debug)]
pub struct Named {
    pub name: &'static str,
}
