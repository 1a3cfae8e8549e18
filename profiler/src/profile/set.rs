//! A set of syscall names.

use std::collections::BTreeSet;

/// Syscall names, kept sorted and without duplicates, as a profile lists them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyscallSet(BTreeSet<String>);

impl SyscallSet {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn insert(&mut self, name: impl Into<String>) -> bool {
        self.0.insert(name.into())
    }

    pub fn contains(&self, name: &str) -> bool {
        self.0.contains(name)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The names in sorted order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    /// Names in `self` and not in `other`.
    pub fn difference<'a>(&'a self, other: &'a SyscallSet) -> impl Iterator<Item = &'a str> {
        self.0.difference(&other.0).map(String::as_str)
    }
}

impl<S: Into<String>> FromIterator<S> for SyscallSet {
    fn from_iter<I: IntoIterator<Item = S>>(iter: I) -> Self {
        Self(iter.into_iter().map(Into::into).collect())
    }
}

impl<'a> IntoIterator for &'a SyscallSet {
    type Item = &'a str;
    type IntoIter =
        std::iter::Map<std::collections::btree_set::Iter<'a, String>, fn(&String) -> &str>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(String::as_str)
    }
}
