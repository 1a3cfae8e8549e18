//! The shared reference data the tests compare with (Docker's default
//! profile, the seed notes), which CI keeps beside the clone at `../shared`
//! from the workspace root. The project itself never needs it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// `shared/reference/NAME`. Fails, naming the path, when it is missing.
pub fn reference_file(name: &str) -> PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the profiler crate is inside the workspace");
    let path = workspace.join("../shared/reference").join(name);
    assert!(
        path.is_file(),
        "reference file {} is missing: these tests read the shared reference data, which CI \
         keeps at ../shared beside the clone; put a copy of shared/ there",
        path.display()
    );
    path
}
