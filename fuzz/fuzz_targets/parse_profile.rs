//! Fuzzes the profile parser with arbitrary bytes: it must never panic,
//! overflow the stack or hang, whatever it is given; and a profile it
//! accepts must survive the rest of the tool: written back, it parses to
//! the same profile, and evaluating, merging and diffing it do not panic.
//!
//! `cargo fuzz run -s none parse_profile` (see README.md, *Fuzzing*).

#![no_main]

use libfuzzer_sys::fuzz_target;
use syscall_profile::{
    baseline::{Baseline, DockerContext, EffectivePolicy, docker_capabilities},
    diffing,
    merging::{Input, merge},
    profile::{Arch, KernelVersion, Profile},
};

fuzz_target!(|data: &[u8]| {
    let Ok(parsed) = Profile::parse(data) else {
        return;
    };
    let profile = parsed.profile;
    let written = profile.to_json();
    let again = Profile::parse(written.as_bytes())
        .unwrap_or_else(|e| panic!("the tool's own output does not parse: {e}\n{written}"));
    assert_eq!(again.profile, profile, "round trip changed the profile");

    let context = DockerContext {
        native: Arch::X86_64,
        caps: docker_capabilities(&[], &[]).unwrap_or_default(),
        kernel: KernelVersion { major: 6, minor: 1 },
    };
    let policy = EffectivePolicy::evaluate(&profile, &context);
    let _ = policy.runnable_names();
    let baseline = Baseline::docker_default();
    let _ = diffing::diff(&baseline, &profile, "fuzz.json", &context);
    if let Ok(merged) = merge(&[
        Input { name: "a", profile: &profile },
        Input { name: "b", profile: &baseline.profile },
    ]) {
        let text = merged.to_json();
        Profile::parse(text.as_bytes())
            .unwrap_or_else(|e| panic!("a merge's output does not parse: {e}\n{text}"));
    }
});
