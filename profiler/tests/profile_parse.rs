//! The profile parser on real files and on hostile ones: Docker's own
//! default profile parses whole, and broken or malicious input fails with a
//! message naming the problem, through the library and through the command
//! line alike.

use crate::common;
use std::{fs, path::PathBuf};

use crate::reference::reference_file;
use syscall_profile::profile::{Action, Arch, CompareOp, Profile, ProfileWarning};

#[test]
fn docker_default_profile_parses_whole() {
    let Some(path) = reference_file("docker-default-seccomp.json") else {
        return;
    };
    let parsed = Profile::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let profile = parsed.profile;
    assert_eq!(profile.default_action, Action::Errno);
    assert_eq!(profile.default_errno_ret, Some(1));
    assert_eq!(profile.syscalls.len(), 33);
    assert_eq!(profile.syscalls[0].names.len(), 361);
    assert_eq!(
        profile.effective_arches(Arch::X86_64),
        [Arch::X86_64, Arch::X86, Arch::X32]
    );
    // Every operator Docker uses came through typed.
    let ops: Vec<CompareOp> = profile
        .syscalls
        .iter()
        .flat_map(|r| r.args.iter().map(|a| a.op))
        .collect();
    assert!(ops.contains(&CompareOp::MaskedEqual) && ops.contains(&CompareOp::Less));
    let clone3 = profile
        .syscalls
        .iter()
        .find(|r| r.names == ["clone3"] && r.action == Action::Errno)
        .expect("clone3's ENOSYS rule");
    assert_eq!(clone3.errno(), Some(38));
    // Names only other architectures have are in rules limited to them,
    // except for those of the big first rule: each is reported, none lost.
    for warning in &parsed.warnings {
        eprintln!("warning: {warning}");
        let ProfileWarning::UnknownName { name, rules, .. } = warning else {
            panic!("unexpected warning {warning}");
        };
        assert!(profile.syscalls[rules[0]].names.contains(name), "{warning}");
    }
    // Round trip: what we write reads back the same.
    let again = Profile::parse(profile.to_json().as_bytes()).unwrap();
    assert_eq!(again.profile, profile);
}

/// A profile file in a temporary directory.
fn write(text: impl AsRef<[u8]>) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("profile.json");
    fs::write(&path, text).unwrap();
    (dir, path)
}

fn load_err(text: impl AsRef<[u8]>) -> String {
    let (_dir, path) = write(text);
    match Profile::load(&path) {
        Ok(p) => panic!("accepted: {p:?}"),
        Err(e) => {
            let text = e.to_string();
            assert!(text.contains("profile.json"), "the file is named: {text}");
            text
        }
    }
}

#[test]
fn hostile_inputs_fail_with_clear_errors() {
    // Huge: refused by size, before being read.
    let (_dir, path) = write("");
    fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(64 * 1024 * 1024)
        .unwrap();
    let err = Profile::load(&path).unwrap_err().to_string();
    assert!(
        err.contains("67108864 bytes, more than the 4194304"),
        "{err}"
    );

    // Deeply nested: refused before anything recursive sees it.
    let err = load_err(format!("{}{}", "[".repeat(1 << 20), "]".repeat(1 << 20)));
    assert!(err.contains("deeper than the 5 levels"), "{err}");
    let err = load_err(format!(
        r#"{{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{{"names": ["read"], "action": "SCMP_ACT_ALLOW", "comment": {}1{}}}]}}"#,
        "[".repeat(5000),
        "]".repeat(5000)
    ));
    assert!(err.contains("deeper than"), "{err}");

    // Wrong types, unknown actions and operators, conflicting duplicates.
    let err = load_err(r#"{"defaultAction": 1}"#);
    assert!(
        err.contains("invalid type: 1 where action belongs"),
        "{err}"
    );
    assert!(err.contains("defaultAction"), "{err}");
    let err = load_err(r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": {}}"#);
    assert!(
        err.contains("`syscalls`") && err.contains("invalid type: map"),
        "{err}"
    );
    let err = load_err(r#"{"defaultAction": "SCMP_ACT_KILLALL"}"#);
    assert!(
        err.contains("SCMP_ACT_KILLALL") && err.contains("SCMP_ACT_KILL_PROCESS"),
        "{err}"
    );
    let err = load_err(
        r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["socket"], "action": "SCMP_ACT_ALLOW",
            "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_MASKED_NE"}]}]}"#,
    );
    assert!(
        err.contains("SCMP_CMP_MASKED_NE") && err.contains("SCMP_CMP_MASKED_EQ"),
        "{err}"
    );
    assert!(err.contains("syscalls[0].args[0].op"), "{err}");
    let err = load_err(
        r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
            {"names": ["bpf"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["bpf"], "action": "SCMP_ACT_KILL"}]}"#,
    );
    assert!(
        err.contains("rule 2 (syscalls[1]: bpf) conflicts with rule 1 (syscalls[0]: bpf)"),
        "{err}"
    );
    let err = load_err(r#"{"defaultAction": "SCMP_ACT_ERRNO", "defaultAction": "SCMP_ACT_ALLOW"}"#);
    assert!(err.contains("duplicate field `defaultAction`"), "{err}");
    let err = load_err(b"\x00\x01\x02");
    assert!(err.contains("not valid JSON"), "{err}");
}

#[test]
fn directory_and_missing_file_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let err = Profile::load(dir.path()).unwrap_err().to_string();
    assert!(err.contains("directory"), "{err}");
    let err = Profile::load(&dir.path().join("nope.json"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("nope.json") && err.contains("No such file"),
        "{err}"
    );
}

/// Two rules giving one syscall different actions under the same
/// conditions: every command that reads the profile refuses it in one
/// line naming both rules (number, place, names), with no position, as
/// serde_json has none ("line 0 column 0") for a check of the whole file.
#[test]
fn conflicting_rules_are_named_by_every_command() {
    let (_dir, path) = write(
        r#"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"], "syscalls": [
            {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["close"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["write"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}"#,
    );
    let profile = path.to_str().unwrap();
    let commands: [&[&str]; 6] = [
        &["export", "--to", "kubernetes", profile],
        &["export", "--to", "docker", profile],
        &["merge", profile, profile],
        &["diff", profile],
        &["check", "--policy", profile, "--", "/bin/true"],
        &["enforce", "--profile", profile, "--", "/bin/true"],
    ];
    for args in commands {
        let out = common::run(args);
        assert_ne!(out.status.code(), Some(0), "{args:?}");
        let err = common::stderr(&out);
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(
            err.contains(
                "rule 3 (syscalls[2]: write) conflicts with rule 1 (syscalls[0]: read, write)"
            ),
            "{args:?}: {err}"
        );
        assert!(!err.contains("line 0"), "{args:?}: {err}");
        assert!(common::stdout(&out).is_empty(), "{args:?}");
    }
}

/// A masked comparison with mask 0 (`(arg & 0) == valueTwo`) checks
/// nothing (valueTwo 0: every value matches) or matches nothing: every
/// command that reads the profile says so once a rule, naming the rule and
/// the argument, and goes on.
#[test]
fn masks_that_check_nothing_are_warned_of_by_every_command() {
    common::require_root();
    let (dir, path) = write(
        r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["read"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["personality", "acct"], "action": "SCMP_ACT_ERRNO", "args": [
                {"index": 1, "value": 0, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"},
                {"index": 1, "value": 0, "op": "SCMP_CMP_MASKED_EQ"}]},
            {"names": ["quotactl"], "action": "SCMP_ACT_ERRNO", "args": [
                {"index": 3, "value": 0, "valueTwo": 8, "op": "SCMP_CMP_MASKED_EQ"}]}]}"#,
    );
    let profile = path.to_str().unwrap();
    let out_file = dir.path().join("out.json");
    let out = out_file.to_str().unwrap();
    let observed_file = dir.path().join("observed.json");
    fs::write(
        &observed_file,
        r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}"#,
    )
    .unwrap();
    let observed = observed_file.to_str().unwrap();
    let commands: [&[&str]; 6] = [
        &["export", "--to", "docker", "-o", out, profile],
        &["export", "--to", "kubernetes", "-o", out, profile],
        &["merge", "-o", out, profile],
        &["diff", profile],
        &["check", "--policy", profile, "--observed", observed],
        &["enforce", "-q", "--profile", profile, "--", "/bin/true"],
    ];
    for args in commands {
        let output = common::run(args);
        let err = common::stderr(&output);
        assert_ne!(output.status.code(), Some(2), "{args:?}: {err}");
        let all: Vec<&str> = err
            .lines()
            .filter(|l| l.contains("rule 2 (syscalls[1]: personality, acct)"))
            .collect();
        let none: Vec<&str> = err
            .lines()
            .filter(|l| l.contains("rule 3 (syscalls[2]: quotactl)"))
            .collect();
        assert_eq!(all.len(), 1, "{args:?}: {err}");
        assert_eq!(none.len(), 1, "{args:?}: {err}");
        assert!(
            all[0].starts_with("syscall-profile: warning: ")
                && all[0].contains(
                    "on argument 1 has mask (`value`) 0 and valueTwo 0, so every value matches"
                ),
            "{args:?}: {err}"
        );
        assert!(
            none[0].contains("on argument 3 has valueTwo 0x8 with bits outside its mask (`value`) 0x0, so no value matches"),
            "{args:?}: {err}"
        );
    }
}
