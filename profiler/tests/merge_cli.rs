//! `syscall-profile merge` as a user runs it: a union written atomically,
//! the same bytes whatever the order of the inputs, argument conditions
//! kept right, and errors that leave no file behind.

use crate::common;
use std::fs;

use crate::common::{
    MARK, dir_entries, enforce_verdicts, require_root, run, stderr, verdicts_profile,
};

const A: &str = r#"{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
  "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]}],
  "syscalls": [{"names": ["read", "write", "exit_group"], "action": "SCMP_ACT_ALLOW"},
               {"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]},
               {"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}]}]}"#;
const B: &str = r#"{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
  "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86"]}],
  "syscalls": [{"names": ["openat", "read", "socket"], "action": "SCMP_ACT_ALLOW"},
               {"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]}]}"#;

#[test]
fn union_is_deterministic_and_keeps_conditions_right() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.json"), dir.path().join("b.json"));
    fs::write(&a, A).unwrap();
    fs::write(&b, B).unwrap();
    let (ab, ba) = (dir.path().join("ab.json"), dir.path().join("ba.json"));
    let out = run([
        "merge".as_ref(),
        a.as_os_str(),
        b.as_os_str(),
        "-o".as_ref(),
        ab.as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // Same inputs, other order, relative names: the same bytes.
    let out = std::process::Command::new(common::profiler())
        .current_dir(dir.path())
        .args(["merge", "b.json", "a.json", "-o", "ba.json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let merged = fs::read_to_string(&ab).unwrap();
    let merged_ba = fs::read_to_string(&ba).unwrap();
    assert_eq!(
        merged.replace(&format!("{}/", dir.path().display()), ""),
        merged_ba
    );

    let json: serde_json::Value = serde_json::from_str(&merged).unwrap();
    let rules = json["syscalls"].as_array().unwrap();
    // socket: unconditional in b, so unconditional in the union.
    assert_eq!(
        rules[0]["names"],
        serde_json::json!(["exit_group", "openat", "read", "socket", "write"])
    );
    // personality: two different conditions, both kept.
    assert_eq!(rules.len(), 3, "{merged}");
    assert_eq!(rules[1]["names"][0], "personality");
    assert_eq!(rules[1]["args"][0]["value"], 0);
    assert_eq!(rules[2]["args"][0]["value"], 8);
    assert_eq!(
        json["archMap"][0]["subArchitectures"],
        serde_json::json!(["SCMP_ARCH_X86", "SCMP_ARCH_X32"])
    );

    // Into one of its own inputs: allowed, atomic.
    let out = run([
        "merge".as_ref(),
        a.as_os_str(),
        b.as_os_str(),
        "-o".as_ref(),
        a.as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(fs::read_to_string(&a).unwrap().contains("openat"));
}

#[test]
fn errors_exit_2_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.json");
    fs::write(&a, A).unwrap();
    let bad = dir.path().join("bad.json");
    fs::write(&bad, r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 9, "value": 1, "op": "SCMP_CMP_EQ"}]}]}"#).unwrap();
    let out_path = dir.path().join("out.json");
    let before = dir_entries(dir.path());
    let out = run([
        "merge".as_ref(),
        a.as_os_str(),
        bad.as_os_str(),
        "-o".as_ref(),
        out_path.as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("argument index 9"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("bad.json"), "{}", stderr(&out));
    assert_eq!(dir_entries(dir.path()), before, "nothing left behind");

    let kill = dir.path().join("kill.json");
    fs::write(&kill, r#"{"defaultAction": "SCMP_ACT_KILL_PROCESS"}"#).unwrap();
    let out = run(["merge".as_ref(), a.as_os_str(), kill.as_os_str()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("disagree on what an unlisted syscall gets"),
        "{}",
        stderr(&out)
    );

    let out = run([
        "merge".as_ref(),
        a.as_os_str(),
        "-o".as_ref(),
        "/nonexistent-dir/out.json".as_ref(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("/nonexistent-dir"),
        "{}",
        stderr(&out)
    );
}

/// A socket rule as `record` writes one: the family, the type without
/// SOCK_NONBLOCK/SOCK_CLOEXEC, the protocol.
fn socket_rule(family: u64) -> serde_json::Value {
    serde_json::json!({"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [
        {"index": 0, "value": family, "op": "SCMP_CMP_EQ"},
        {"index": 1, "value": 0xfff7_f7ffu64, "valueTwo": 1, "op": "SCMP_CMP_MASKED_EQ"},
        {"index": 2, "value": 0, "op": "SCMP_CMP_EQ"}]})
}

/// The merge of a profile that allows AF_INET sockets and one that allows
/// AF_UNIX ones allows both, and nothing more: with it enforced, the kernel
/// lets both families through and refuses AF_VSOCK with the profile's
/// errno, where each input refuses the other's family.
#[test]
fn merged_socket_families_are_both_allowed_by_the_kernel() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let inet = verdicts_profile(dir.path(), "inet.json", serde_json::json!([socket_rule(2)]));
    let unix = verdicts_profile(dir.path(), "unix.json", serde_json::json!([socket_rule(1)]));
    let merged = dir.path().join("merged.json");
    let out = run([
        "merge".as_ref(),
        inet.as_os_str(),
        unix.as_os_str(),
        "-o".as_ref(),
        merged.as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // SOCK_STREAM|SOCK_CLOEXEC: the masked type matches it too.
    let (af_inet, af_unix, af_vsock) = ("41:2,0x80001,0", "41:1,1,0", "41:40,1,0");
    let refused = |profile: &std::path::Path| -> Vec<String> {
        let (verdicts, output) = enforce_verdicts(profile, &[], &[af_inet, af_unix, af_vsock]);
        assert_eq!(verdicts.len(), 3, "{}", stderr(&output));
        verdicts
            .into_iter()
            .filter(|(_, v)| v == &format!("errno {MARK}"))
            .map(|(p, _)| p)
            .collect()
    };
    assert_eq!(refused(&merged), [af_vsock]);
    assert_eq!(refused(&inet), [af_unix, af_vsock]);
    assert_eq!(refused(&unix), [af_inet, af_vsock]);
}
