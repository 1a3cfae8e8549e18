//! Fuzz target `scan_cache`: see `syscall_profile_fuzz::scan_cache`
//! (fuzz/src/lib.rs) for what it checks, and the README's *Fuzzing* for
//! how it runs.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| syscall_profile_fuzz::scan_cache(data));
