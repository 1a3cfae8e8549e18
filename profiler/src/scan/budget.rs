//! The memory the analysis of one object may hold.
//!
//! What a scan keeps grows with what a file declares: its symbols, its
//! relocations, the pointers in its data, the functions and branches of
//! its code. A crafted file can declare millions of each in a few MiB, so
//! the analysis counts what it keeps, as it keeps it, and stops with one
//! line naming what overflowed rather than taking the host's memory. The
//! count is of the bytes each item holds (its size and the text it owns),
//! not of the allocator's own overhead, so the process's resident set is
//! somewhat larger; the scan's tests measure that it stays under 100 MiB.

use std::cell::Cell;

/// What the analysis of one object may hold: with the process's own
/// pages and the file's, the scan stays under 100 MiB. Node.js (27 MiB of
/// code, a million branches, 70,000 exported names) takes 57 MiB of it at
/// most; dockerd less.
pub(crate) const MAX_ANALYSIS_BYTES: usize = 64 << 20;

/// Bytes left to the analysis of one object.
#[derive(Debug)]
pub(crate) struct Budget {
    left: Cell<usize>,
}

/// The budget ran out while keeping `what`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Exhausted {
    pub what: &'static str,
}

impl Exhausted {
    /// The sentence a report gives.
    pub(crate) fn describe(self) -> String {
        format!(
            "it is too large to analyse: its {} would take more than the {} MiB the scan holds \
             for one object",
            self.what,
            MAX_ANALYSIS_BYTES >> 20
        )
    }
}

impl Default for Budget {
    fn default() -> Self {
        Budget::new(MAX_ANALYSIS_BYTES)
    }
}

impl Budget {
    pub(crate) fn new(bytes: usize) -> Budget {
        Budget {
            left: Cell::new(bytes),
        }
    }

    /// Counts `bytes` more kept for `what`.
    pub(crate) fn take(&self, bytes: usize, what: &'static str) -> Result<(), Exhausted> {
        match self.left.get().checked_sub(bytes) {
            Some(left) => {
                self.left.set(left);
                Ok(())
            }
            None => {
                self.left.set(0);
                Err(Exhausted { what })
            }
        }
    }

    /// Counts `n` items of `each` bytes.
    pub(crate) fn take_n(
        &self,
        n: usize,
        each: usize,
        what: &'static str,
    ) -> Result<(), Exhausted> {
        self.take(n.saturating_mul(each), what)
    }

    /// Gives back what a structure let go of.
    pub(crate) fn give(&self, bytes: usize) {
        self.left.set(self.left.get().saturating_add(bytes));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_refuses_what_would_overflow_it_and_says_what() {
        let budget = Budget::new(100);
        assert_eq!(budget.take(60, "symbols"), Ok(()));
        assert_eq!(
            budget.take_n(5, 10, "functions"),
            Err(Exhausted { what: "functions" })
        );
        // Exhausted stays exhausted: nothing taken after counts as kept.
        assert!(budget.take(1, "branches").is_err());
        budget.give(50);
        assert_eq!(budget.take(50, "branches"), Ok(()));
        assert!(
            Exhausted { what: "symbols" }
                .describe()
                .contains("symbols would take more than the 64 MiB")
        );
    }
}
