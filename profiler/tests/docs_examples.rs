//! The book's examples that need no root (`diff`, `merge`, `export`,
//! `check --observed`) run as written: each `console` block of those pages
//! is run by trycmd against the built tool, in the book's `examples/`
//! profiles, and its output and exit status must be the page's, so the
//! docs cannot drift from the tool. (`TRYCMD=overwrite` rewrites the pages
//! from what the tool says, for review.)

use std::path::Path;

use crate::common::profiler;

#[test]
fn the_books_root_free_examples_run_as_written() {
    let book = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/src");
    let cases = trycmd::TestCases::new();
    cases.register_bin("syscall-profile", profiler());
    for page in ["diff.md", "merge.md", "export.md", "check.md"] {
        cases.case(book.join(page));
    }
    cases.run();
}
