//! Reading JSON strictly: lists that may be `null`, items that must be
//! objects, and errno numbers within range.

use std::fmt;

use serde::{Deserialize, Deserializer};

/// The largest errno: the kernel takes a return value from -4095 to -1 as
/// an error (`MAX_ERRNO`), and libseccomp refuses a larger one.
pub(crate) const MAX_ERRNO: u32 = 4095;

/// An `errnoRet`/`defaultErrnoRet`: a number from 0 to [`MAX_ERRNO`]
/// (`null` is no value). A larger one would be cut to its low 16 bits by
/// the filter (65536 to 0: the denied syscall "succeeds"), a negative one
/// is no errno.
pub(super) fn errno_number<'de, D>(deserializer: D) -> Result<Option<u32>, D::Error>
where
    D: Deserializer<'de>,
{
    use serde::de::Error;
    let Some(number) = Option::<serde_json::Number>::deserialize(deserializer)? else {
        return Ok(None);
    };
    match number.as_u64() {
        Some(errno) if errno <= u64::from(MAX_ERRNO) => Ok(Some(errno as u32)),
        _ => Err(D::Error::custom(format!(
            "{number} is not an errno: an errno is a whole number from 0 to {MAX_ERRNO} \
             (e.g. 1 for EPERM, 38 for ENOSYS)"
        ))),
    }
}

/// Reads a list that may also be given as `null` (Go writes a nil slice so).
pub(crate) fn null_as_empty<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(deserializer)?.unwrap_or_default())
}

/// Reads a list of objects (or `null`), each strictly an object: serde's
/// derived structs would also take a list of their fields in order, which no
/// Docker profile has and which would hide mistakes.
pub(super) fn objects<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    let list: Vec<ObjectOnly<T>> = null_as_empty(deserializer)?;
    Ok(list.into_iter().map(|ObjectOnly(item)| item).collect())
}

/// Reads an optional object (absent or `null`), strictly an object.
pub(super) fn optional_object<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<ObjectOnly<T>>::deserialize(deserializer)?.map(|ObjectOnly(item)| item))
}

/// `T`, read only from a JSON object (see [`objects`]).
pub(super) struct ObjectOnly<T>(pub(super) T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for ObjectOnly<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor<T>(std::marker::PhantomData<T>);

        impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for Visitor<T> {
            type Value = T;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(serde::de::value::MapAccessDeserializer::new(map))
            }
        }

        deserializer
            .deserialize_map(Visitor(std::marker::PhantomData))
            .map(ObjectOnly)
    }
}
