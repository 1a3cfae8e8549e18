//! `syscall-profile export`, checked by the consumers themselves: the OCI
//! object run by runc and crun from a bundle, the Kubernetes resource
//! validated against the Security Profiles Operator's CRD schema (the
//! project's copy in `tests/data/`, checked against the operator's CRD
//! where that reference data is present), the systemd drop-in read by
//! systemd-analyze.

use crate::{common, reference};
use std::{
    collections::BTreeMap,
    fs,
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
};

use crate::common::{allowed_names, require_root, run, stderr, stdout};
use serde_json::{Value, json};

/// The errno the OCI profile refuses unlisted calls with: ENOSYS, whose
/// message ("Function not implemented") nothing else in the run prints.
const ENOSYS: u32 = 38;

pub(crate) fn write_profile(dir: &Path, name: &str, profile: &Value) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, serde_json::to_string_pretty(profile).unwrap()).unwrap();
    path
}

pub(crate) fn need(program: &str, package: &str) {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "{program} is missing: install Debian's {package} package"
    );
}

/// A bundle: `runc spec`, a busybox rootfs, a process that makes an
/// allowed call (write: `echo`) and one the profile never saw (mkdir).
pub(crate) fn bundle(dir: &Path) -> PathBuf {
    let bundle = dir.join("bundle");
    let bin = bundle.join("rootfs/bin");
    fs::create_dir_all(&bin).unwrap();
    let busybox = Path::new("/usr/bin/busybox");
    assert!(
        busybox.is_file(),
        "/usr/bin/busybox is missing: install Debian's busybox-static package"
    );
    fs::copy(busybox, bin.join("busybox")).unwrap();
    for applet in ["sh", "echo", "mkdir"] {
        std::os::unix::fs::symlink("busybox", bin.join(applet)).unwrap();
    }
    let out = Command::new("runc")
        .arg("spec")
        .current_dir(&bundle)
        .output()
        .unwrap();
    assert!(out.status.success(), "runc spec: {}", stderr(&out));
    let path = bundle.join("config.json");
    let mut config: Value = serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
    config["process"]["terminal"] = json!(false);
    config["process"]["args"] = json!(["/bin/sh", "-c", "echo allowed; mkdir /made"]);
    config["root"]["readonly"] = json!(false);
    fs::write(&path, serde_json::to_string_pretty(&config).unwrap()).unwrap();
    bundle
}

/// Runs the bundle with `runtime` (its state under `dir`), in a mount
/// namespace of its own where hugetlb is a v1 hierarchy (crun refuses a
/// cgroup2 hierarchy holding a controller on these hybrid hosts); the
/// container is deleted whatever happened.
pub(crate) fn run_bundle(runtime: &str, dir: &Path, bundle: &Path, id: &str) -> Output {
    let root = dir.join(format!("{runtime}-root"));
    fs::create_dir_all(&root).unwrap();
    let script = format!(
        "mkdir -p {dir}/hugetlb && mount -t cgroup -o hugetlb none {dir}/hugetlb || exit 99
         timeout 60 {runtime} --root {root} run -b {bundle} {id}
         status=$?
         {runtime} --root {root} delete -f {id} >/dev/null 2>&1
         exit $status",
        dir = dir.display(),
        root = root.display(),
        bundle = bundle.display(),
    );
    let out = Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", &script])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(99), "{}", stderr(&out));
    out
}

#[test]
fn oci_bundle_enforced_by_runc_and_crun() {
    require_root();
    let _hierarchies = hierarchies();
    need("runc", "runc");
    need("crun", "crun");
    let dir = tempfile::tempdir().unwrap();
    // The workload's calls, learned by the tool itself.
    let learned = dir.path().join("learned.json");
    let out = run([
        "record".as_ref(),
        "-q".as_ref(),
        "-o".as_ref(),
        learned.as_os_str(),
        "--".as_ref(),
        "/usr/bin/busybox".as_ref(),
        "sh".as_ref(),
        "-c".as_ref(),
        "echo allowed".as_ref(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let mut profile: Value = serde_json::from_str(&fs::read_to_string(&learned).unwrap()).unwrap();
    profile["defaultErrnoRet"] = json!(ENOSYS);
    let names = profile["syscalls"][0]["names"].as_array_mut().unwrap();
    assert!(
        !names.iter().any(|n| n == "mkdir" || n == "mkdirat"),
        "{names:?}"
    );
    // A rule with an argument condition, which the runtimes must accept
    // (the workload never calls personality: it changes no verdict).
    profile["syscalls"].as_array_mut().unwrap().push(json!({
        "names": ["personality"], "action": "SCMP_ACT_ALLOW",
        "args": [{"index": 0, "value": 0xffff_ffffu64, "op": "SCMP_CMP_EQ"}]
    }));
    let input = write_profile(dir.path(), "profile.json", &profile);
    let bundle = bundle(dir.path());
    let before: Value =
        serde_json::from_str(&fs::read_to_string(bundle.join("config.json")).unwrap()).unwrap();

    let out = run([
        "export".as_ref(),
        "--to".as_ref(),
        "oci".as_ref(),
        "--bundle".as_ref(),
        bundle.as_os_str(),
        input.as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // Learned natively, it gets the runtime's own calls, said in a line,
    // as rules of their own after the profile's.
    let (tail, _) = shipped_runtime_tail();
    let said = stderr(&out);
    let added: Vec<&str> = said
        .lines()
        .find_map(|l| {
            l.strip_prefix("syscall-profile: added the ")
                .and_then(|l| l.split_once(" (the profile was learned natively): "))
        })
        .unwrap_or_else(|| panic!("{said}"))
        .1
        .split(' ')
        .collect();
    assert!(added.iter().all(|n| tail.iter().any(|t| t == n)), "{said}");
    for needed in ["capset", "fstatfs", "getdents64", "setresuid"] {
        assert!(added.contains(&needed), "{needed}: {said}");
    }
    let after: Value =
        serde_json::from_str(&fs::read_to_string(bundle.join("config.json")).unwrap()).unwrap();
    // The rest of the file is kept.
    for key in ["process", "root", "mounts", "hostname"] {
        assert_eq!(before[key], after[key], "{key}");
    }
    for key in ["namespaces", "maskedPaths", "readonlyPaths"] {
        assert_eq!(before["linux"][key], after["linux"][key], "linux.{key}");
    }
    let seccomp = &after["linux"]["seccomp"];
    assert_eq!(seccomp["defaultAction"], "SCMP_ACT_ERRNO");
    assert_eq!(seccomp["defaultErrnoRet"], ENOSYS);
    assert_eq!(
        seccomp["architectures"],
        json!(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"])
    );
    assert!(seccomp.get("archMap").is_none(), "{seccomp}");
    assert!(
        seccomp["syscalls"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r.get("comment").is_none()),
        "{seccomp}"
    );
    let personality: Vec<&Value> = seccomp["syscalls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["names"] == json!(["personality"]))
        .collect();
    assert_eq!(personality.len(), 1, "{seccomp}");
    assert_eq!(personality[0]["args"][0]["value"], 0xffff_ffffu64);

    for runtime in ["runc", "crun"] {
        let id = format!("spx-export-{runtime}-{}", std::process::id());
        let out = run_bundle(runtime, dir.path(), &bundle, &id);
        assert_eq!(
            stdout(&out).trim(),
            "allowed",
            "{runtime}: {}",
            stderr(&out)
        );
        assert!(
            stderr(&out).contains("can't create directory '/made': Function not implemented"),
            "{runtime}: {}",
            stderr(&out)
        );
        assert!(!bundle.join("rootfs/made").exists(), "{runtime}");
    }

    // The control: with mkdir allowed, the same bundle makes its directory,
    // so the refusal above was the profile's.
    profile["syscalls"][0]["names"]
        .as_array_mut()
        .unwrap()
        .extend([json!("mkdir"), json!("mkdirat")]);
    let input = write_profile(dir.path(), "profile.json", &profile);
    let out = run([
        "export".as_ref(),
        "--to".as_ref(),
        "oci".as_ref(),
        "--bundle".as_ref(),
        bundle.as_os_str(),
        input.as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let id = format!("spx-export-control-{}", std::process::id());
    let out = run_bundle("runc", dir.path(), &bundle, &id);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(bundle.join("rootfs/made").is_dir());
}

#[test]
fn oci_refuses_docker_only_includes() {
    let dir = tempfile::tempdir().unwrap();
    // Docker's default, as the tool ships it (`baseline_reference.rs`
    // checks it against moby's file): capability and architecture filters.
    let docker_default = dir.path().join("docker-default.json");
    fs::write(
        &docker_default,
        syscall_profile::baseline::Baseline::docker_default()
            .profile
            .to_json(),
    )
    .unwrap();
    let out_file = dir.path().join("oci.json");
    let out = run([
        "export".as_ref(),
        "--to".as_ref(),
        "oci".as_ref(),
        docker_default.as_os_str(),
        "-o".as_ref(),
        out_file.as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    // Docker's default lists other architectures' names, which are warned of.
    let errors: Vec<&str> = err.lines().filter(|l| !l.contains(": warning: ")).collect();
    assert_eq!(errors.len(), 1, "{err}");
    assert!(errors[0].contains("includes/excludes"), "{err}");
    assert!(!out_file.exists());
}

/// The operator's `SeccompProfile` v1 schema, as the project holds it
/// (`tests/data/README.md` says where from).
pub(crate) fn crd_schema() -> Value {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/spo-seccompprofile-v1.schema.json");
    serde_json::from_str(&fs::read_to_string(&path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// What the operator's CRD schema finds wrong with `resource`, each with
/// where.
pub(crate) fn crd_violations(resource: &Value) -> Vec<String> {
    let schema = crd_schema();
    let validator = jsonschema::validator_for(&schema).expect("the CRD schema compiles");
    validator
        .iter_errors(resource)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect()
}

/// The v1 `openAPIV3Schema` of the operator's CRD itself (reference data):
/// `None` when the test is not run (`reference/mod.rs`).
fn reference_crd_schema() -> Option<Value> {
    let path = reference::reference_file("spo-seccompprofile-crd.yaml")?;
    let crd: Value = serde_norway::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
    Some(
        crd["spec"]["versions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == "v1")
            .expect("the CRD has a v1 version")["schema"]["openAPIV3Schema"]
            .clone(),
    )
}

/// A schema without its descriptions (keyword `description`, not a
/// property of that name).
fn without_descriptions(schema: &Value) -> Value {
    let Some(object) = schema.as_object() else {
        return schema.clone();
    };
    let mut out = serde_json::Map::new();
    for (key, value) in object {
        let kept = match key.as_str() {
            "description" => continue,
            "properties" => Value::Object(
                value
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(name, property)| (name.clone(), without_descriptions(property)))
                    .collect(),
            ),
            "items" => without_descriptions(value),
            _ => value.clone(),
        };
        out.insert(key.clone(), kept);
    }
    Value::Object(out)
}

/// Where `ours` and `theirs` differ, as JSON pointers.
fn differences(ours: &Value, theirs: &Value, at: &str, found: &mut Vec<String>) {
    match (ours.as_object(), theirs.as_object()) {
        (Some(a), Some(b)) => {
            for key in a.keys().chain(b.keys().filter(|k| !a.contains_key(*k))) {
                let (x, y) = (&a.get(key), &b.get(key));
                match (x, y) {
                    (Some(x), Some(y)) => differences(x, y, &format!("{at}/{key}"), found),
                    _ => found.push(format!(
                        "{at}/{key}: ours {}, the CRD's {}",
                        x.map_or("absent".into(), Value::to_string),
                        y.map_or("absent".into(), Value::to_string)
                    )),
                }
            }
        }
        _ if ours != theirs => found.push(format!("{at}: ours {ours}, the CRD's {theirs}")),
        _ => {}
    }
}

/// The project's schema says what the operator's CRD says: every
/// validation keyword of apiVersion, kind, metadata and spec, and nothing
/// more (its own `$schema`, `$comment` and `title` aside). Run where the
/// CRD is (always in CI), so the copy cannot drift from it.
#[test]
fn crd_schema_is_the_operator_s() {
    let Some(theirs) = reference_crd_schema() else {
        return;
    };
    let mut theirs = without_descriptions(&theirs);
    // The operator writes status; the tool never does.
    theirs["properties"]
        .as_object_mut()
        .unwrap()
        .remove("status")
        .expect("the CRD declares status");
    let mut ours = crd_schema();
    for own in ["$schema", "$comment", "title"] {
        ours.as_object_mut().unwrap().remove(own);
    }
    let mut found = Vec::new();
    differences(&ours, &theirs, "", &mut found);
    assert!(
        found.is_empty(),
        "tests/data/spo-seccompprofile-v1.schema.json differs from the CRD's v1 schema:\n{}",
        found.join("\n")
    );
    // The comparison has teeth: a schema without spec's required list is
    // told apart.
    let mut loose = ours.clone();
    loose["properties"]["spec"]
        .as_object_mut()
        .unwrap()
        .remove("required");
    let mut found = Vec::new();
    differences(&loose, &theirs, "", &mut found);
    assert_eq!(
        found,
        ["/properties/spec/required: ours absent, the CRD's [\"defaultAction\"]"]
    );
}

/// Every key of `object` is a property the schema declares (the CRD leaves
/// `additionalProperties` open, so the validator would not notice a
/// Docker-only field such as defaultErrnoRet).
pub(crate) fn only_declared_keys(object: &Value, schema: &Value, at: &str) {
    for (key, value) in object.as_object().unwrap() {
        let declared = &schema["properties"][key];
        assert!(!declared.is_null(), "{at}.{key} is not in the CRD");
        if value.is_object() && declared["properties"].is_object() {
            only_declared_keys(value, declared, &format!("{at}.{key}"));
        }
        if let (Some(items), Some(_)) = (
            value.as_array(),
            declared["items"]["properties"].as_object(),
        ) {
            for item in items {
                only_declared_keys(item, &declared["items"], &format!("{at}.{key}[]"));
            }
        }
    }
}

fn export_kubernetes(dir: &Path, profile: &Value) -> Output {
    let input = write_profile(dir, "k8s.json", profile);
    run([
        "export".as_ref(),
        "--to".as_ref(),
        "kubernetes".as_ref(),
        "--name".as_ref(),
        "learned".as_ref(),
        "--namespace".as_ref(),
        "apps".as_ref(),
        input.as_os_str(),
    ])
}

#[test]
fn kubernetes_resources_validate_against_the_crd_schema() {
    let schema = crd_schema();
    let validator = jsonschema::validator_for(&schema).expect("the CRD schema compiles");
    let dir = tempfile::tempdir().unwrap();
    let actions = [
        "SCMP_ACT_KILL",
        "SCMP_ACT_KILL_PROCESS",
        "SCMP_ACT_KILL_THREAD",
        "SCMP_ACT_TRAP",
        "SCMP_ACT_ERRNO",
        "SCMP_ACT_TRACE",
        "SCMP_ACT_ALLOW",
        "SCMP_ACT_LOG",
        "SCMP_ACT_NOTIFY",
    ];
    let ops = [
        "SCMP_CMP_NE",
        "SCMP_CMP_LT",
        "SCMP_CMP_LE",
        "SCMP_CMP_EQ",
        "SCMP_CMP_GE",
        "SCMP_CMP_GT",
    ];
    let mut rules: Vec<Value> = actions
        .iter()
        .enumerate()
        .map(|(i, action)| {
            let mut rule = json!({"names": [format!("call{i}")], "action": action});
            // Tagged as `record` tags a container's profile, which holds the
            // runtime's own calls: the export adds none (this test is about
            // the schema).
            if i == 0 {
                rule["comment"] = json!("[learned in a container]");
            }
            if *action == "SCMP_ACT_ERRNO" || *action == "SCMP_ACT_TRACE" {
                rule["errnoRet"] = json!(38);
            }
            rule
        })
        .collect();
    // Every operator, six conditions, the largest value int64 holds.
    rules.push(json!({"names": ["personality"], "action": "SCMP_ACT_ALLOW",
        "args": ops.iter().enumerate().map(|(i, op)| json!({"index": i, "value": i64::MAX, "op": op})).collect::<Vec<_>>()}));
    rules.push(json!({"names": ["socket"], "action": "SCMP_ACT_ALLOW",
        "args": [{"index": 1, "value": 0xf, "valueTwo": 1, "op": "SCMP_CMP_MASKED_EQ"}]}));
    let mut profiles = Vec::new();
    for default in actions {
        profiles.push(json!({"defaultAction": default,
            "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]}],
            "syscalls": rules}));
    }
    profiles.push(json!({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
        "architectures": ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM", "SCMP_ARCH_S390X", "SCMP_ARCH_RISCV64", "SCMP_ARCH_PPC64LE"],
        "flags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
        "listenerPath": "/var/run/security-profiles-operator/agent.sock",
        "syscalls": rules}));
    for profile in &profiles {
        let out = export_kubernetes(dir.path(), profile);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let resource: Value = serde_norway::from_str(&stdout(&out)).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&resource)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{errors:?}\n{}", stdout(&out));
        only_declared_keys(&resource, &schema, "");
        assert_eq!(
            resource["apiVersion"],
            "security-profiles-operator.x-k8s.io/v1"
        );
        assert_eq!(resource["kind"], "SeccompProfile");
        assert_eq!(
            resource["metadata"],
            json!({"name": "learned", "namespace": "apps"})
        );
        assert_eq!(resource["spec"]["defaultAction"], profile["defaultAction"]);
        assert_eq!(
            resource["spec"]["syscalls"].as_array().unwrap().len(),
            rules.len()
        );
        assert_eq!(
            resource["spec"]["syscalls"][9]["args"][5]["value"],
            i64::MAX
        );
    }
    // The validator has teeth: what the CRD forbids is reported.
    let mut bad: Value =
        serde_norway::from_str(&stdout(&export_kubernetes(dir.path(), &profiles[0]))).unwrap();
    bad["spec"]["syscalls"][4]["errnoRet"] = json!("ENOSYS");
    bad["spec"]["syscalls"][9]["args"][0]["value"] = json!(-1);
    assert_eq!(validator.iter_errors(&bad).count(), 2);
}

#[test]
fn kubernetes_refuses_what_the_crd_cannot_hold() {
    let dir = tempfile::tempdir().unwrap();
    let arch = json!([{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": []}]);
    let cases = [
        (
            json!({"defaultAction": "SCMP_ACT_ERRNO", "archMap": arch, "syscalls": [
                {"names": ["ioctl"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 1, "value": 1u64 << 63, "op": "SCMP_CMP_EQ"}]}]}),
            "2^63 or more",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38, "archMap": arch, "syscalls": []}),
            "defaultErrnoRet is 38",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_LOONGARCH64"], "syscalls": []}),
            "SCMP_ARCH_LOONGARCH64",
        ),
    ];
    for (profile, expected) in cases {
        let out = export_kubernetes(dir.path(), &profile);
        assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(expected), "{err}");
        assert!(stdout(&out).is_empty());
    }
}

#[test]
fn kubernetes_localhost_is_docker_json_with_the_snippet() {
    let dir = tempfile::tempdir().unwrap();
    let profile = json!({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
        "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86"]}],
        "syscalls": [{"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"}]});
    let input = write_profile(dir.path(), "in.json", &profile);
    let output = dir.path().join("web.json");
    let out = run([
        "export".as_ref(),
        "--to".as_ref(),
        "kubernetes-localhost".as_ref(),
        input.as_os_str(),
        "-o".as_ref(),
        output.as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let written: Value = serde_json::from_str(&fs::read_to_string(&output).unwrap()).unwrap();
    // Where the profile was learned is unknown (no tag of `record`): the
    // runtime's own calls are added as rules of their own, and said.
    let rules = written["syscalls"].as_array().unwrap();
    assert_eq!(rules[0], profile["syscalls"][0]);
    let mut without_tail = written.clone();
    without_tail["syscalls"] = json!([rules[0]]);
    assert_eq!(without_tail, profile);
    let (tail, _) = shipped_runtime_tail();
    for rule in &rules[1..] {
        assert!(
            rule["comment"]
                .as_str()
                .is_some_and(|c| c.contains("runc and crun make themselves")),
            "{rule}"
        );
        for name in rule["names"].as_array().unwrap() {
            assert!(tail.iter().any(|t| t == name), "{name}");
        }
    }
    let err = stderr(&out);
    assert!(
        err.contains(
            "calls runc and crun make after installing the filter (the profile does not say \
             where it was learned; one recorded from a container run holds them already): "
        ),
        "{err}"
    );
    assert!(err.contains("type: Localhost"), "{err}");
    assert!(err.contains("localhostProfile: profiles/web.json"), "{err}");
    assert!(
        err.contains("/var/lib/kubelet/seccomp/profiles/web.json"),
        "{err}"
    );
}

const WITH_CONDITION: &str = r#"{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 13,
  "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": []}],
  "syscalls": [{"names": ["read", "write", "exit_group", "openat"], "action": "SCMP_ACT_ALLOW"},
               {"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]}]}"#;

/// `systemd-analyze verify` of a unit with `drop_in`; what it says of the
/// drop-in.
pub(crate) fn verify_drop_in(dir: &Path, drop_in: &str) -> String {
    need("systemd-analyze", "systemd");
    let units = dir.join("units");
    let drop_dir = units.join("spx-export-test.service.d");
    fs::create_dir_all(&drop_dir).unwrap();
    fs::write(
        units.join("spx-export-test.service"),
        "[Unit]\nDescription=export test\n[Service]\nExecStart=/bin/true\n",
    )
    .unwrap();
    fs::write(drop_dir.join("seccomp.conf"), drop_in).unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(units.join("spx-export-test.service"))
        .env("SYSTEMD_UNIT_PATH", format!("{}:", units.display()))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    stderr(&out)
        .lines()
        .filter(|l| l.contains("seccomp.conf"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn systemd_drop_in_never_widens_silently_and_systemd_reads_it() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("p.json");
    fs::write(&input, WITH_CONDITION).unwrap();
    let out = run(["export", "--to", "systemd", input.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("rule 2 (personality)") && err.contains("--widen"),
        "{err}"
    );
    assert!(stdout(&out).is_empty());

    let out = run([
        "export",
        "--to",
        "systemd",
        "--widen",
        input.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(
            "widened (allowed whatever their arguments, or as far as the directive says): \
             rule 2 (personality): LockPersonality= allows only PER_LINUX"
        ),
        "{}",
        stderr(&out)
    );
    let drop_in = stdout(&out);
    let settings: Vec<&str> = drop_in.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(
        settings,
        [
            "[Service]",
            "SystemCallFilter=exit_group openat personality read write",
            "SystemCallArchitectures=native",
            "SystemCallErrorNumber=EACCES",
            // What the profile refuses outright, in systemd's directives;
            // the widened personality gets no LockPersonality=.
            "RestrictNamespaces=yes",
            "RestrictAddressFamilies=none",
            "MemoryDenyWriteExecute=yes",
        ]
    );
    // systemd parses every name and the errno (and complains of what it
    // cannot: the control below).
    assert_eq!(verify_drop_in(dir.path(), &drop_in), "");
    let complaints = verify_drop_in(
        dir.path(),
        &format!("{drop_in}SystemCallFilter=no_such_call\nSystemCallErrorNumber=EBOGUS\n"),
    );
    assert_eq!(complaints.lines().count(), 2, "{complaints}");

    // fcntl's values: no directive checks them. Docker's default allows
    // fcntl whatever its arguments: widened within it, and said; a
    // --baseline that does not allow it refuses the export, naming the rule.
    let locks = json!({"defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [{"names": ["read", "write", "exit_group"], "action": "SCMP_ACT_ALLOW"},
                     {"names": ["fcntl"], "action": "SCMP_ACT_ALLOW",
                      "args": [{"index": 1, "value": 6, "op": "SCMP_CMP_EQ"}]}]});
    let locks = write_profile(dir.path(), "locks.json", &locks);
    let out = run(["export", "--to", "systemd", locks.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let said = "fcntl: systemd cannot check its argument values (F_SETLK); allowed for any \
                value, as Docker's default profile does";
    assert!(
        stderr(&out).contains(&format!("syscall-profile: {said}\n")),
        "{}",
        stderr(&out)
    );
    assert!(
        stdout(&out).contains(&format!("# {said}\n")),
        "{}",
        stdout(&out)
    );
    let strict = write_profile(
        dir.path(),
        "strict.json",
        &json!({"defaultAction": "SCMP_ACT_ERRNO",
                "syscalls": [{"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"}]}),
    );
    let out = run([
        "export",
        "--to",
        "systemd",
        "--baseline",
        strict.to_str().unwrap(),
        locks.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("rule 2 (fcntl)")
            && err.contains(&format!("beyond {}", strict.display()))
            && err.contains("--widen"),
        "{err}"
    );
    assert!(stdout(&out).is_empty());
}

/// Removes `dir` and the cgroups below it, deepest first (all empty once
/// the processes in them have ended).
fn remove_cgroup_tree(dir: &Path) {
    let mut dirs = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        if let Ok(entries) = fs::read_dir(&d) {
            pending.extend(
                entries
                    .flatten()
                    .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                    .map(|e| e.path()),
            );
            dirs.push(d);
        }
    }
    for d in dirs.iter().rev() {
        let _ = fs::remove_dir(d);
    }
}

/// The two tests that rearrange the cgroup hierarchies in a mount namespace
/// of their own (crun's hugetlb moved to v1; nspawn's hybrid mounts) run one
/// at a time: hugetlb goes back to cgroup2 only a moment after such a
/// namespace ends, and a mount of it meanwhile is refused.
static HIERARCHIES: std::sync::Mutex<()> = std::sync::Mutex::new(());

pub(crate) fn hierarchies() -> std::sync::MutexGuard<'static, ()> {
    common::one_at_a_time(&HIERARCHIES)
}

/// Boots this host's systemd (its /usr, a tmpfs root) in a `systemd-nspawn`
/// container, in a mount namespace (with a /run/systemd of its own, where
/// nspawn keeps its state) and cgroups of the test's own, to run
/// `units/spx-export.service` once; `out` is the unit's /out.
fn boot_unit(dir: &Path, units: &Path, out: &Path) -> Output {
    boot_unit_with(dir, units, out, &[])
}

/// As [`boot_unit`], with each of `binds` (a host directory outside /usr)
/// at its own path, read-only.
pub(crate) fn boot_unit_with(dir: &Path, units: &Path, out: &Path, binds: &[PathBuf]) -> Output {
    boot_unit_with_options(dir, units, out, binds, &[])
}

/// As [`boot_unit_with`], with `options` given to systemd-nspawn too (each
/// one word, e.g. `--system-call-filter=bpf`).
pub(crate) fn boot_unit_with_options(
    dir: &Path,
    units: &Path,
    out: &Path,
    binds: &[PathBuf],
    options: &[&str],
) -> Output {
    let tag = format!("spx-export-{}", std::process::id());
    let mut cgroups = vec![common::cgroup2_mount().join(&tag)];
    let named = Path::new("/sys/fs/cgroup/systemd");
    if named.join("cgroup.procs").is_file() {
        cgroups.push(named.join(&tag));
    }
    let enter: String = cgroups
        .iter()
        .map(|c| {
            format!(
                "mkdir {c} && echo $$ > {c}/cgroup.procs || exit 99\n",
                c = c.display()
            )
        })
        .collect();
    let script = format!(
        "{enter}exec timeout 120 unshare -m --propagation private sh -c 'mount -t tmpfs none \
         /run/systemd && exec systemd-nspawn --quiet --volatile=yes -D / --register=no \
         --keep-unit --machine={tag} --bind-ro={units}:/etc/systemd/system --bind={out}:/out \
         {binds}{options}-b -- systemd.unit=spx-export.service systemd.firstboot=off'",
        units = units.display(),
        out = out.display(),
        binds = binds
            .iter()
            .map(|b| format!("--bind-ro={} ", b.display()))
            .collect::<String>(),
        options = options.iter().map(|o| format!("{o} ")).collect::<String>(),
    );
    // A hierarchy that an earlier namespace moved may take a moment to come
    // back: nspawn then cannot mount it. Tried again, a few times.
    let mut result = boot(&script, dir);
    for _ in 0..5 {
        if !stderr(&result).contains("Failed to mount cgroup") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_secs(2));
        for cgroup in &cgroups {
            remove_cgroup_tree(cgroup);
        }
        result = boot(&script, dir);
    }
    for cgroup in &cgroups {
        remove_cgroup_tree(cgroup);
        assert!(!cgroup.exists(), "cgroup {} left behind", cgroup.display());
    }
    assert_ne!(result.status.code(), Some(99), "{}", stderr(&result));
    result
}

fn boot(script: &str, dir: &Path) -> Output {
    Command::new("sh")
        .args(["-c", script])
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// The drop-in enforced by systemd's own manager: the host's systemd booted
/// in a systemd-nspawn container starts a unit under it. The workload's
/// write works; the fork it never made when learned is refused with EPERM;
/// without the drop-in the same unit forks and makes its directory.
#[test]
fn systemd_manager_enforces_the_drop_in() {
    require_root();
    let _hierarchies = hierarchies();
    need("systemd-nspawn", "systemd-container");
    let dir = tempfile::tempdir().unwrap();
    let (units, out) = (dir.path().join("units"), dir.path().join("out"));
    fs::create_dir_all(units.join("spx-export.service.d")).unwrap();
    fs::create_dir_all(&out).unwrap();
    fs::write(
        units.join("spx-export.service"),
        "[Unit]\nDescription=export test\nDefaultDependencies=no\nSuccessAction=exit-force\n\
         FailureAction=exit-force\n[Service]\nType=oneshot\nExecStart=/usr/bin/busybox sh -c \
         'echo allowed > /out/a; mkdir /out/made 2> /out/err; echo $? > /out/rc'\n",
    )
    .unwrap();
    // The workload learned without the fork: only its write. Names only:
    // SystemCallFilter= has no argument conditions.
    let learned = dir.path().join("learned.json");
    let script = format!("echo allowed > {}/a", out.display());
    let recorded = run([
        "record".as_ref(),
        "-q".as_ref(),
        "--args".as_ref(),
        "names".as_ref(),
        "-o".as_ref(),
        learned.as_os_str(),
        "--".as_ref(),
        "/usr/bin/busybox".as_ref(),
        "sh".as_ref(),
        "-c".as_ref(),
        script.as_ref(),
    ]);
    assert_eq!(recorded.status.code(), Some(0), "{}", stderr(&recorded));
    let names = common::allowed_names(&fs::read_to_string(&learned).unwrap());
    assert!(
        !names
            .iter()
            .any(|n| n.starts_with("clone") || n.contains("fork")),
        "{names:?}"
    );
    let drop_in = units.join("spx-export.service.d/seccomp.conf");
    let exported = run([
        "export".as_ref(),
        "--to".as_ref(),
        "systemd".as_ref(),
        learned.as_os_str(),
        "-o".as_ref(),
        drop_in.as_os_str(),
    ]);
    assert_eq!(exported.status.code(), Some(0), "{}", stderr(&exported));
    fs::remove_file(out.join("a")).unwrap();

    let booted = boot_unit(dir.path(), &units, &out);
    let log = format!("{}{}", stdout(&booted), stderr(&booted));
    assert_eq!(
        fs::read_to_string(out.join("a")).unwrap_or_default(),
        "allowed\n",
        "{log}"
    );
    assert_eq!(
        fs::read_to_string(out.join("err"))
            .unwrap_or_default()
            .trim(),
        "sh: can't fork: Operation not permitted",
        "{log}"
    );
    assert!(!out.join("made").exists());

    // The control: the same unit without the drop-in.
    fs::remove_file(&drop_in).unwrap();
    for file in ["a", "err"] {
        fs::remove_file(out.join(file)).unwrap();
    }
    let booted = boot_unit(dir.path(), &units, &out);
    let log = format!("{}{}", stdout(&booted), stderr(&booted));
    assert_eq!(
        fs::read_to_string(out.join("rc")).unwrap_or_default(),
        "0\n",
        "{log}"
    );
    assert!(out.join("made").is_dir(), "{log}");
}

/// `NAME ok` / `NAME errno N` lines of `fork-and-sockets`, by name.
fn probe_lines(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(name, verdict)| (name.to_owned(), verdict.to_owned()))
        .collect()
}

/// What `fork-and-sockets` does as its work, and what it tries beyond it
/// with `--escape`.
const WORK: &[&str] = &[
    "thread",
    "fork",
    "unix",
    "inet",
    "unshare-files",
    "personality-linux",
];
const ESCAPES: &[&str] = &[
    "netlink",
    "packet",
    "clone-newnet",
    "clone3",
    "personality-exec",
    "unshare-user",
];

/// A forking, threaded program recorded natively with `record`'s default
/// `--args` (its profile has clone3's ENOSYS rule and argument rules for
/// clone, unshare, socket and personality) exports to systemd without
/// `--widen`, and systemd's own manager, booted in systemd-nspawn, runs it
/// under the drop-in: its work succeeds; a namespace made through clone or
/// unshare, a family it never used and another persona are refused, as the
/// same profile refuses them as Docker's JSON under `enforce` (libseccomp);
/// clone3 is answered with ENOSYS by both. Without a filter, every one of
/// these calls succeeds here (as root).
#[test]
fn systemd_keeps_the_argument_checks_of_a_learned_profile() {
    require_root();
    let _hierarchies = hierarchies();
    need("systemd-nspawn", "systemd-container");
    let dir = tempfile::tempdir().unwrap();
    let (units, out) = (dir.path().join("units"), dir.path().join("out"));
    fs::create_dir_all(units.join("spx-export.service.d")).unwrap();
    fs::create_dir_all(&out).unwrap();
    let program = common::sample("fork-and-sockets");
    // The container's root is a tmpfs with the host's /usr: the program
    // runs from /out.
    fs::copy(&program, out.join("fork-and-sockets")).unwrap();
    fs::write(
        units.join("spx-export.service"),
        "[Unit]\nDescription=export test\nDefaultDependencies=no\nSuccessAction=exit-force\n\
         FailureAction=exit-force\n[Service]\nType=oneshot\nStandardOutput=file:/out/verdicts\n\
         StandardError=file:/out/err\nExecStart=/out/fork-and-sockets --escape\n",
    )
    .unwrap();

    let learned = dir.path().join("learned.json");
    let recorded = run([
        "record".as_ref(),
        "-q".as_ref(),
        "-o".as_ref(),
        learned.as_os_str(),
        "--".as_ref(),
        program.as_os_str(),
    ]);
    assert_eq!(recorded.status.code(), Some(0), "{}", stderr(&recorded));
    let profile: Value = serde_json::from_str(&fs::read_to_string(&learned).unwrap()).unwrap();
    let rules = profile["syscalls"].as_array().unwrap();
    let conditional = |name: &str| {
        rules
            .iter()
            .any(|r| r["names"] == json!([name]) && r["args"].is_array())
    };
    assert!(
        rules.iter().any(|r| r["names"] == json!(["clone3"])
            && r["action"] == "SCMP_ACT_ERRNO"
            && r["errnoRet"] == ENOSYS),
        "{profile}"
    );
    for name in ["clone", "unshare", "socket", "personality"] {
        assert!(conditional(name), "{name}: {profile}");
    }

    let drop_in_path = units.join("spx-export.service.d/seccomp.conf");
    let exported = run([
        "export".as_ref(),
        "--to".as_ref(),
        "systemd".as_ref(),
        learned.as_os_str(),
        "-o".as_ref(),
        drop_in_path.as_os_str(),
    ]);
    assert_eq!(exported.status.code(), Some(0), "{}", stderr(&exported));
    let drop_in = fs::read_to_string(&drop_in_path).unwrap();
    let settings: Vec<&str> = drop_in.lines().filter(|l| !l.starts_with('#')).collect();
    for directive in [
        "RestrictNamespaces=yes",
        "RestrictAddressFamilies=AF_INET AF_UNIX",
        "LockPersonality=yes",
    ] {
        assert!(settings.contains(&directive), "{directive}:\n{drop_in}");
    }
    // mmap is allowed with PROT_EXEC (the loader maps code): nothing proves
    // that no memory is writable and executable, and the drop-in says so.
    assert!(
        !settings
            .iter()
            .any(|l| l.starts_with("MemoryDenyWriteExecute=")),
        "{drop_in}"
    );
    assert!(
        drop_in.contains("# MemoryDenyWriteExecute= is not set: "),
        "{drop_in}"
    );
    // What is not kept is said: the socket types and protocols, mprotect's
    // PROT_EXEC (in systemd's @default set).
    let notes = stderr(&exported);
    assert!(
        notes.contains("systemd does not check the type and protocol"),
        "{notes}"
    );
    assert!(
        notes.contains("(its @default set): ") && notes.contains("(mprotect)"),
        "{notes}"
    );
    assert_eq!(verify_drop_in(&dir.path().join("verify"), &drop_in), "");

    let booted = boot_unit(dir.path(), &units, &out);
    let log = format!("{}{}", stdout(&booted), stderr(&booted));
    let under_systemd = probe_lines(&fs::read_to_string(out.join("verdicts")).unwrap_or_default());
    let enforced = run([
        "enforce".as_ref(),
        "--profile".as_ref(),
        learned.as_os_str(),
        "--".as_ref(),
        program.as_os_str(),
        "--escape".as_ref(),
    ]);
    assert_eq!(enforced.status.code(), Some(0), "{}", stderr(&enforced));
    let under_libseccomp = probe_lines(&stdout(&enforced));
    let unfiltered = Command::new(&program).arg("--escape").output().unwrap();
    let unfiltered = probe_lines(&stdout(&unfiltered));

    let errno = |number: i32| format!("errno {number}");
    for probe in WORK {
        for (who, verdicts) in [
            ("systemd", &under_systemd),
            ("enforce", &under_libseccomp),
            ("no filter", &unfiltered),
        ] {
            assert_eq!(
                verdicts.get(*probe).map(String::as_str),
                Some("ok"),
                "{probe} under {who}: {verdicts:?}\n{log}"
            );
        }
    }
    for probe in ESCAPES {
        assert_eq!(
            unfiltered.get(*probe).map(String::as_str),
            Some("ok"),
            "{probe} without a filter: {unfiltered:?}"
        );
        // systemd's own errnos: EAFNOSUPPORT for a family its
        // RestrictAddressFamilies= refuses, EPERM for a namespace or a
        // persona; the profile's EPERM under libseccomp. clone3: ENOSYS.
        let (systemd, libseccomp) = match *probe {
            "netlink" | "packet" => (errno(libc::EAFNOSUPPORT), errno(libc::EPERM)),
            "clone3" => (errno(libc::ENOSYS), errno(libc::ENOSYS)),
            _ => (errno(libc::EPERM), errno(libc::EPERM)),
        };
        assert_eq!(
            under_systemd.get(*probe),
            Some(&systemd),
            "{probe} under systemd: {under_systemd:?}\n{log}"
        );
        assert_eq!(
            under_libseccomp.get(*probe),
            Some(&libseccomp),
            "{probe} under enforce: {under_libseccomp:?}"
        );
    }
}

/// Records `command` natively with `record`'s default `--args` (from the
/// test's directory), exports the profile to systemd without `--widen`,
/// and boots systemd in nspawn to run `exec_start` as a unit under the
/// drop-in (its standard output in /out/stdout, from `out`, which the
/// unit's work dir is). Returns the export's notes, the drop-in and what the
/// unit wrote.
fn learned_under_systemd(
    dir: &Path,
    command: &[&str],
    exec_start: &str,
    binds: &[PathBuf],
    before_boot: impl FnOnce(&Path),
) -> (String, String, String) {
    require_root();
    let _hierarchies = hierarchies();
    need("systemd-nspawn", "systemd-container");
    let (units, out) = (dir.join("units"), dir.join("out"));
    fs::create_dir_all(units.join("spx-export.service.d")).unwrap();
    fs::create_dir_all(&out).unwrap();
    fs::write(
        units.join("spx-export.service"),
        format!(
            "[Unit]\nDescription=export test\nDefaultDependencies=no\nSuccessAction=exit-force\n\
             FailureAction=exit-force\n[Service]\nType=oneshot\nWorkingDirectory=/out\n\
             StandardOutput=file:/out/stdout\nStandardError=file:/out/stderr\n\
             ExecStart={exec_start}\n"
        ),
    )
    .unwrap();
    let learned = dir.join("learned.json");
    let recorded = Command::new(common::profiler())
        .args(["record", "-q", "-o"])
        .arg(&learned)
        .arg("--")
        .args(command)
        .current_dir(&out)
        .output()
        .unwrap();
    assert_eq!(recorded.status.code(), Some(0), "{}", stderr(&recorded));
    before_boot(&out);
    let drop_in_path = units.join("spx-export.service.d/seccomp.conf");
    let exported = run([
        "export".as_ref(),
        "--to".as_ref(),
        "systemd".as_ref(),
        learned.as_os_str(),
        "-o".as_ref(),
        drop_in_path.as_os_str(),
    ]);
    assert_eq!(exported.status.code(), Some(0), "{}", stderr(&exported));
    let drop_in = fs::read_to_string(&drop_in_path).unwrap();
    assert_eq!(verify_drop_in(&dir.join("verify"), &drop_in), "");
    let booted = boot_unit_with(dir, &units, &out, binds);
    let log = format!(
        "{}{}{}",
        stdout(&booted),
        stderr(&booted),
        fs::read_to_string(out.join("stderr")).unwrap_or_default()
    );
    let written = fs::read_to_string(out.join("stdout")).unwrap_or_default();
    (stderr(&exported), drop_in, format!("{written}\0{log}"))
}

/// sqlite3 in WAL mode, recorded natively with the default `--args`: its
/// profile keeps fcntl to the locks it used (F_GETLK, F_SETLK) and ioctl to
/// TCGETS, which no systemd directive can check. Docker's default allows
/// both whatever their arguments, so the export widens them to their names
/// without `--widen`, says so on one line each and in the drop-in, and
/// systemd (booted in nspawn) runs the same workload under it. Before,
/// the export was refused on fcntl and ioctl.
#[test]
fn learned_sqlite3_wal_runs_under_systemd_without_widen() {
    need("sqlite3", "sqlite3");
    let dir = tempfile::tempdir().unwrap();
    let sql = "PRAGMA journal_mode=WAL; create table t(x); insert into t values(1); \
               select * from t;";
    let (notes, drop_in, ran) = learned_under_systemd(
        dir.path(),
        &["/usr/bin/sqlite3", "db", sql],
        &format!("/usr/bin/sqlite3 /out/db '{sql}'"),
        &[],
        |out| {
            for file in ["db", "db-wal", "db-shm"] {
                let _ = fs::remove_file(out.join(file));
            }
        },
    );
    let fcntl = notes
        .lines()
        .find(|l| l.starts_with("syscall-profile: fcntl: "))
        .unwrap_or_else(|| panic!("{notes}"));
    assert!(
        fcntl.contains("systemd cannot check its argument values (")
            && fcntl.contains("F_SETLK")
            && fcntl.ends_with("allowed for any value, as Docker's default profile does"),
        "{notes}"
    );
    let said = fcntl.trim_start_matches("syscall-profile: ");
    assert!(drop_in.contains(&format!("# {said}\n")), "{drop_in}");
    assert!(!notes.contains("widened ("), "{notes}");
    let (written, log) = ran.split_once('\0').unwrap();
    assert_eq!(written, "wal\n1\n", "{log}");
}

/// sqlite3 in its default (rollback journal) mode, recorded natively with
/// the default `--args`, exports to systemd without `--widen` and runs
/// there: the WAL test's twin, since the two modes lock differently.
#[test]
fn learned_sqlite3_rollback_runs_under_systemd_without_widen() {
    need("sqlite3", "sqlite3");
    let dir = tempfile::tempdir().unwrap();
    let sql = "create table t(x); insert into t values(1); insert into t values(2); \
               select count(*) from t;";
    let (notes, _drop_in, ran) = learned_under_systemd(
        dir.path(),
        &["/usr/bin/sqlite3", "db", sql],
        &format!("/usr/bin/sqlite3 /out/db '{sql}'"),
        &[],
        |out| {
            for file in ["db", "db-journal"] {
                let _ = fs::remove_file(out.join(file));
            }
        },
    );
    assert!(!notes.contains("widened ("), "{notes}");
    let (written, log) = ran.split_once('\0').unwrap();
    assert_eq!(written, "2\n", "{log}");
}

/// The threaded C program of the runtimes' test (pthread_create, a file
/// written by the thread), recorded natively with the default `--args`,
/// exports to systemd without `--widen`; systemd runs it under the drop-in,
/// and refuses the mkdir the recording never made with the profile's
/// errno, as runc and containerd do under its OCI and Kubernetes exports.
#[test]
fn learned_threaded_c_program_runs_under_systemd_without_widen() {
    need("gcc", "gcc");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    fs::create_dir_all(&out).unwrap();
    let program = build_threads_c(&out);
    let (notes, drop_in, ran) = learned_under_systemd(
        dir.path(),
        &[program.to_str().unwrap()],
        "/out/threads mkdir",
        &[],
        |out| {
            let _ = fs::remove_file(out.join("out.txt"));
            let _ = fs::remove_dir(out.join("made"));
        },
    );
    assert!(!notes.contains("widened ("), "{notes}");
    assert!(
        drop_in.lines().any(|l| l == "RestrictNamespaces=yes"),
        "{drop_in}"
    );
    let (written, log) = ran.split_once('\0').unwrap();
    assert_eq!(
        written, "written by a thread\nmkdir: Operation not permitted\n",
        "{log}"
    );
    assert!(!out.join("made").exists());
}

/// A JVM program (a single-file source launch: the JVM compiles it, then
/// runs a thread that prints), recorded natively with the default `--args`:
/// its profile keeps fcntl, ioctl, prctl, setsockopt and socketpair to the
/// values it used, and clone3's ENOSYS. Exported to systemd without
/// `--widen` (each widened within Docker's default, said), it runs there.
/// Before, the export was refused on those rules.
#[test]
fn learned_jvm_program_runs_under_systemd_without_widen() {
    need("java", "openjdk-17-jdk-headless");
    let java = fs::canonicalize("/usr/bin/java").unwrap();
    // The JDK's configuration lives in /etc, outside the container's /usr.
    let home = java.parent().and_then(Path::parent).unwrap();
    let config = fs::canonicalize(home.join("lib/jvm.cfg")).unwrap();
    let config = config.parent().unwrap().to_owned();
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir_all(dir.path().join("out")).unwrap();
    fs::write(
        dir.path().join("out/Hello.java"),
        "public class Hello { public static void main(String[] a) throws Exception { \
         Thread t = new Thread(() -> System.out.println(\"hello from a thread\")); \
         t.start(); t.join(); } }\n",
    )
    .unwrap();
    let java_text = java.to_str().unwrap();
    let (notes, drop_in, ran) = learned_under_systemd(
        dir.path(),
        &[java_text, "Hello.java"],
        &format!("{java_text} /out/Hello.java"),
        &[config],
        |_| {},
    );
    for name in ["fcntl", "prctl"] {
        assert!(
            notes.lines().any(|l| l.starts_with(&format!(
                "syscall-profile: {name}: systemd cannot check its argument values ("
            )) && l
                .ends_with("allowed for any value, as Docker's default profile does")),
            "{name}: {notes}"
        );
    }
    assert!(!notes.contains("widened ("), "{notes}");
    let settings: Vec<&str> = drop_in.lines().filter(|l| !l.starts_with('#')).collect();
    assert!(settings.contains(&"RestrictNamespaces=yes"), "{drop_in}");
    let (written, log) = ran.split_once('\0').unwrap();
    assert_eq!(written, "hello from a thread\n", "{log}");
}

#[test]
fn bundle_errors_are_one_line_and_leave_the_bundle_alone() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("p.json");
    fs::write(&input, WITH_CONDITION).unwrap();
    let bundle = dir.path().join("bundle");
    fs::create_dir_all(&bundle).unwrap();
    let input = input.to_str().unwrap();
    let bundle_arg = bundle.to_str().unwrap();
    let cases: [(&[&str], &str); 3] = [
        (
            &["--to", "oci", "--bundle", bundle_arg, input],
            "give a bundle directory made by `runc spec`",
        ),
        (
            &["--to", "systemd", "--bundle", bundle_arg, input],
            "--bundle applies only to --to oci",
        ),
        (
            &["--to", "oci", "--bundle", "/nonexistent-spx-bundle", input],
            "does not exist",
        ),
    ];
    for (args, expected) in cases {
        let out = run(std::iter::once("export").chain(args.iter().copied()));
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(expected), "{err}");
    }
    assert!(common::dir_entries(&bundle).is_empty());
    // A config.json that is no runtime spec is left as it was.
    fs::write(bundle.join("config.json"), "[1]\n").unwrap();
    let out = run(["export", "--to", "oci", "--bundle", bundle_arg, input]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("is not a runtime spec"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        fs::read_to_string(bundle.join("config.json")).unwrap(),
        "[1]\n"
    );
    assert_eq!(common::dir_entries(&bundle).len(), 1);
}

/// The probes of the cross-runtime test, as `syscall-verdicts` takes them
/// (`NR:ARGS`, x86_64 numbers), with the outcome the profile below must
/// give, and the outcome without a filter where the profile refuses (so a
/// refusal is seen to be the filter's, not the call's own failure).
const VERDICT_PROBES: &[(&str, &str, Option<&str>)] = &[
    // getpid: allowed by name.
    ("39", "ok", None),
    // mkdir(NULL): unlisted, the default errno (ENOSYS); unfiltered EFAULT.
    ("83", "errno 38", Some("errno 14")),
    // rmdir(NULL): an explicit ERRNO rule (EACCES); unfiltered EFAULT.
    ("84", "errno 13", Some("errno 14")),
    // personality(0xffffffff) (a query): allowed by its condition.
    ("135:0xffffffff", "ok", None),
    // personality(READ_IMPLIES_EXEC): outside the condition.
    ("135:0x400000", "errno 38", Some("ok")),
    // socket(AF_UNIX, SOCK_DGRAM): allowed by its condition.
    ("41:1,2,0", "ok", None),
    // socket(AF_INET6, SOCK_DGRAM): outside it.
    ("41:10,2,0", "errno 38", Some("ok")),
    // clone's namespace bits (masked equality): CLONE_NEWUTS refused (the
    // filter's ENOSYS, not the kernel's EPERM for want of CAP_SYS_ADMIN), a
    // plain fork-like clone (SIGCHLD) allowed.
    ("56:0x4000011", "errno 38", Some("errno 1")),
    ("56:0x11", "ok", None),
];

/// One seccomp policy, learned from a docker run and given argument
/// conditions, gives the same verdict for every probe whoever enforces it:
/// docker and podman from the Docker JSON, runc and crun from the OCI
/// bundle that `export --to oci --bundle` writes.
#[test]
fn runtimes_and_engines_give_the_same_verdicts() {
    require_root();
    let _hierarchies = hierarchies();
    need("runc", "runc");
    need("crun", "crun");
    let samples = PathBuf::from(std::env::var("SYSCALL_PROFILE_TEST_STATIC_SAMPLES").unwrap_or_else(
        |_| panic!("SYSCALL_PROFILE_TEST_STATIC_SAMPLES is not set: `cargo xtask test` builds the static samples"),
    ));
    let docker_host = common::docker_host();
    let dir = tempfile::tempdir().unwrap();
    let probes: Vec<&str> = VERDICT_PROBES.iter().map(|p| p.0).collect();

    // The harness's own calls (and runc's after its filter), learned by the
    // tool from the engine; then the conditions under test.
    let learned = dir.path().join("learned.json");
    // By name: the conditions are the test's own.
    let mut words = vec![
        "record",
        "-q",
        "--args",
        "names",
        "-o",
        learned.to_str().unwrap(),
        "--",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect::<Vec<_>>();
    words.extend(common::docker_run(&[
        common::TEST_IMAGE,
        "/bin/syscall-verdicts",
        // getpid, and pause (ended by its alarm): the prober then waits
        // for its child as it does for any probe that takes time, which a
        // loaded machine makes of any probe.
        "39",
        "34",
    ]));
    let out = run(&words);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let mut profile: Value = serde_json::from_str(&fs::read_to_string(&learned).unwrap()).unwrap();
    profile["defaultAction"] = json!("SCMP_ACT_ERRNO");
    profile["defaultErrnoRet"] = json!(ENOSYS);
    let rules = profile["syscalls"].as_array_mut().unwrap();
    for rule in rules.iter_mut() {
        if let Some(names) = rule["names"].as_array_mut() {
            names.retain(|n| {
                !["mkdir", "rmdir", "personality", "socket", "clone"]
                    .contains(&n.as_str().unwrap_or(""))
            });
        }
    }
    // Learned from `docker run`, it holds runc's own calls; crun makes
    // others (its list is shipped): by name, as the profile was learned.
    let (tail, _) = shipped_runtime_tail();
    rules[0]["names"]
        .as_array_mut()
        .unwrap()
        .extend(tail.iter().filter(|n| *n != "clone").map(|n| json!(n)));
    rules.extend([
        json!({"names": ["rmdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}),
        json!({"names": ["personality"], "action": "SCMP_ACT_ALLOW",
               "args": [{"index": 0, "value": 0xffff_ffffu64, "op": "SCMP_CMP_EQ"}]}),
        json!({"names": ["socket"], "action": "SCMP_ACT_ALLOW",
               "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]}),
        json!({"names": ["clone"], "action": "SCMP_ACT_ALLOW",
               "args": [{"index": 0, "value": 0x7E02_0000u64, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]}),
    ]);
    let policy = write_profile(dir.path(), "policy.json", &profile);

    let mut outcomes: Vec<(String, BTreeMap<String, String>)> = Vec::new();
    let parse = |out: &Output, who: &str| -> BTreeMap<String, String> {
        assert!(out.status.success(), "{who}: {}", stderr(out));
        stdout(out)
            .lines()
            .filter_map(|l| l.split_once(' ').map(|(p, o)| (p.to_owned(), o.to_owned())))
            .collect()
    };
    let engine_run = |engine: &str, globals: &[String], seccomp: &str| -> Output {
        // podman asks for more than this host's hard limits allow.
        let limits: &[&str] = if engine == "podman" {
            &[
                "--ulimit",
                "nofile=20000:20000",
                "--ulimit",
                "nproc=32768:32768",
            ]
        } else {
            &[]
        };
        Command::new("timeout")
            .arg("120")
            .arg(engine)
            .args(globals)
            .args(["run", "--rm", "--network", "none"])
            .args(limits)
            .arg("--security-opt")
            .arg(format!("seccomp={seccomp}"))
            .args([common::TEST_IMAGE, "/bin/syscall-verdicts"])
            .args(&probes)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let docker_globals = vec!["-H".to_owned(), docker_host.clone()];
    let podman_globals: Vec<String> = std::env::var("SYSCALL_PROFILE_TEST_PODMAN_GLOBALS")
        .expect("SYSCALL_PROFILE_TEST_PODMAN_GLOBALS is not set: `cargo xtask test` prepares podman's store")
        .split(' ')
        .map(str::to_owned)
        .collect();
    let policy_arg = policy.to_string_lossy().into_owned();
    outcomes.push((
        "docker".into(),
        parse(
            &engine_run("docker", &docker_globals, &policy_arg),
            "docker",
        ),
    ));
    outcomes.push((
        "podman".into(),
        parse(
            &engine_run("podman", &podman_globals, &policy_arg),
            "podman",
        ),
    ));
    let unfiltered = parse(
        &engine_run("docker", &docker_globals, "unconfined"),
        "docker unconfined",
    );

    // The same policy through the OCI bundle, for each runtime.
    let bundle = bundle(dir.path());
    let rootfs_bin = bundle.join("rootfs/bin");
    fs::copy(
        samples.join("syscall-verdicts"),
        rootfs_bin.join("syscall-verdicts"),
    )
    .unwrap();
    let config_path = bundle.join("config.json");
    let mut config: Value =
        serde_json::from_str(&fs::read_to_string(&config_path).unwrap()).unwrap();
    let mut args = vec![json!("/bin/syscall-verdicts")];
    args.extend(probes.iter().map(|p| json!(p)));
    config["process"]["args"] = Value::Array(args);
    fs::write(&config_path, serde_json::to_string_pretty(&config).unwrap()).unwrap();
    let out = run([
        "export".as_ref(),
        "--to".as_ref(),
        "oci".as_ref(),
        "--bundle".as_ref(),
        bundle.as_os_str(),
        policy.as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    for runtime in ["runc", "crun"] {
        let id = format!("spx-verdicts-{runtime}-{}", std::process::id());
        let out = run_bundle(runtime, dir.path(), &bundle, &id);
        outcomes.push((runtime.into(), parse(&out, runtime)));
    }

    // dockerd before 23.0 drops `defaultErrnoRet` on its way to runc (moby
    // #42604 came with 23.0): unlisted calls get runc's EPERM there.
    let daemon = common::docker_version();
    let old_docker = daemon
        .split('.')
        .next()
        .and_then(|major| major.parse::<u32>().ok())
        .is_some_and(|major| major < 23);
    // `enforce` through that engine says so before the run, and reports
    // the errno the call really got.
    let mut words = vec!["enforce", "--profile", &policy_arg, "--"]
        .into_iter()
        .map(str::to_owned)
        .collect::<Vec<_>>();
    words.extend(common::docker_run(&[
        common::TEST_IMAGE,
        "/bin/syscall-verdicts",
        "83",
    ]));
    let out = run(&words);
    let said = stderr(&out);
    assert_eq!(
        said.contains("ignores the profile's defaultErrnoRet (38)"),
        old_docker,
        "dockerd {daemon}: {said}"
    );
    let errno = if old_docker { 1 } else { ENOSYS };
    assert!(
        said.contains(&format!("mkdir                1×, errno {errno}")),
        "{said}"
    );
    for (who, got) in &outcomes {
        for (probe, expected, without) in VERDICT_PROBES {
            let expected = if *expected == "errno 38" && who == "docker" && old_docker {
                "errno 1"
            } else {
                expected
            };
            assert_eq!(
                got.get(*probe).map(String::as_str),
                Some(expected),
                "{who}, probe {probe}: {got:?}"
            );
            if let Some(without) = without {
                assert_eq!(
                    unfiltered.get(*probe).map(String::as_str),
                    Some(*without),
                    "unfiltered, probe {probe}: {unfiltered:?}"
                );
            }
        }
    }
}

/// `record -q --to FORMAT -o OUTPUT -- busybox sh -c 'echo allowed'`: what
/// it wrote.
fn record_echo_to(format: &str, output: &Path) -> String {
    let out = run([
        "record".as_ref(),
        "-q".as_ref(),
        "--to".as_ref(),
        format.as_ref(),
        "-o".as_ref(),
        output.as_os_str(),
        "--".as_ref(),
        "/usr/bin/busybox".as_ref(),
        "sh".as_ref(),
        "-c".as_ref(),
        "echo allowed".as_ref(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    fs::read_to_string(output).unwrap()
}

/// `record --to oci` writes the runtime spec's object directly, with the
/// runtime's own calls a native recording does not see: put into a
/// bundle's `config.json` as it is, runc runs the workload under it, and the call
/// the recording never saw (mkdir) is refused with the recorded profile's
/// errno, EPERM.
#[test]
fn record_to_oci_runs_in_a_runc_bundle() {
    require_root();
    let _hierarchies = hierarchies();
    need("runc", "runc");
    let dir = tempfile::tempdir().unwrap();
    let learned = record_echo_to("oci", &dir.path().join("learned-oci.json"));
    let seccomp: Value = serde_json::from_str(&learned).unwrap();
    assert_eq!(seccomp["defaultAction"], "SCMP_ACT_ERRNO", "{seccomp}");
    for docker_only in ["comment", "archMap"] {
        assert!(seccomp.get(docker_only).is_none(), "{seccomp}");
    }
    assert!(
        seccomp["architectures"]
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x == "SCMP_ARCH_X86_64")),
        "{seccomp}"
    );
    let names = allowed_names(&learned);
    assert!(
        !names.contains("mkdir") && !names.contains("mkdirat"),
        "{names:?}"
    );
    let bundle = bundle(dir.path());
    let path = bundle.join("config.json");
    let mut config: Value = serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
    config["linux"]["seccomp"] = seccomp;
    fs::write(&path, serde_json::to_string_pretty(&config).unwrap()).unwrap();
    let id = format!("spx-record-oci-{}", std::process::id());
    let out = run_bundle("runc", dir.path(), &bundle, &id);
    assert_eq!(stdout(&out).trim(), "allowed", "{}", stderr(&out));
    assert!(
        stderr(&out).contains("can't create directory '/made': Operation not permitted"),
        "{}",
        stderr(&out)
    );
    assert!(!bundle.join("rootfs/made").exists());
}

/// `record --to kubernetes` writes a `SeccompProfile` that validates
/// against the operator's CRD schema, holding what was recorded.
#[test]
fn record_to_kubernetes_validates_against_the_crd_schema() {
    require_root();
    let schema = crd_schema();
    let validator = jsonschema::validator_for(&schema).expect("the CRD schema compiles");
    let dir = tempfile::tempdir().unwrap();
    let learned = record_echo_to("kubernetes", &dir.path().join("learned.yaml"));
    let resource: Value = serde_norway::from_str(&learned).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&resource)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:?}\n{resource}");
    only_declared_keys(&resource, &schema, "");
    assert_eq!(resource["kind"], "SeccompProfile");
    let allowed: Vec<&str> = resource["spec"]["syscalls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] == "SCMP_ACT_ALLOW")
        .flat_map(|r| r["names"].as_array().unwrap())
        .filter_map(Value::as_str)
        .collect();
    assert!(
        allowed.contains(&"execve") && allowed.contains(&"write"),
        "{allowed:?}"
    );
}

/// What PyYAML, a YAML 1.1 reader as kubectl's is, reads from `text`, as
/// JSON: a value JSON has no type for (a date) becomes
/// `{"!python": TYPE, "repr": …}`, so that it cannot pass for a string.
fn yaml_1_1_load(text: &str) -> Value {
    let script = "import json, sys, yaml\n\
                  doc = yaml.safe_load(sys.stdin.buffer)\n\
                  print(json.dumps(doc, default=lambda o: {'!python': type(o).__name__, 'repr': repr(o)}))";
    let mut child = Command::new("/usr/bin/python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("/usr/bin/python3 is missing: install Debian's python3 package");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let err = stderr(&out);
    assert!(
        !err.contains("No module named 'yaml'"),
        "PyYAML is missing: install Debian's python3-yaml package (`cargo xtask setup` does)"
    );
    assert!(
        out.status.success(),
        "PyYAML could not read:\n{text}\n{err}"
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Every leaf of `value` is a string, but for the integer fields of an
/// argument condition and errnoRet.
fn only_strings(value: &Value, at: &str) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                if ["index", "value", "valueTwo", "errnoRet"].contains(&key.as_str()) {
                    assert!(inner.is_u64(), "{at}.{key} is {inner}");
                } else {
                    only_strings(inner, &format!("{at}.{key}"));
                }
            }
        }
        Value::Array(items) => {
            for (i, inner) in items.iter().enumerate() {
                only_strings(inner, &format!("{at}[{i}]"));
            }
        }
        Value::String(_) => {}
        other => panic!("{at} is read as {other}, not as a string"),
    }
}

/// What `export --to kubernetes` writes reads the same in YAML 1.1
/// (PyYAML, as kubectl's reader) as in YAML 1.2 (serde_norway): a name of
/// `yes`, a namespace of `on`, syscall names such as `0755` or `1e3`, a
/// listenerMetadata of `12:30`, a date, a line break or Unicode all stay
/// the strings they were.
#[test]
fn kubernetes_strings_stay_strings_for_a_yaml_1_1_reader() {
    let dir = tempfile::tempdir().unwrap();
    let names = [
        "yes",
        "no",
        "on",
        "off",
        "y",
        "n",
        "true",
        "null",
        "0755",
        "1e3",
        "1.5",
        "0x1f",
        "2001-12-14",
        "1.2.3",
        "learned",
    ];
    let namespaces = [
        "on",
        "yes",
        "n",
        "false",
        "0755",
        "123",
        "2001-12-14",
        "null",
        "apps",
    ];
    let metadata = [
        "12:30",
        "1:20",
        "190:20:30",
        "yes",
        "Off",
        "~",
        "",
        "=",
        "<<",
        ".inf",
        "-.nan",
        "0o17",
        "+12",
        "1_000",
        "0b101",
        "2001-12-14t21:59:43.10-05:00",
        "a: b",
        "#x",
        "%x",
        "- a",
        "!tag",
        "&a",
        "*a",
        "' q",
        "\"d\\\"",
        "line\nbreak",
        "tab\tand é\u{2028}x\u{85}",
        "learned",
    ];
    let syscall_names = [
        "read", "yes", "on", "off", "no", "y", "n", "true", "null", "0755", "1e3", "0x1f", "1_000",
        "0b101", "12", "0o17",
    ];
    for (i, listener_metadata) in metadata.iter().enumerate() {
        let name = names[i % names.len()];
        let namespace = namespaces[i % namespaces.len()];
        let profile = json!({"defaultAction": "SCMP_ACT_ERRNO",
            "architectures": ["SCMP_ARCH_X86_64"],
            "listenerPath": "/var/run/security-profiles-operator/yes",
            "listenerMetadata": listener_metadata,
            "syscalls": [{"names": syscall_names, "action": "SCMP_ACT_ALLOW"},
                {"names": ["socket"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
                 "args": [{"index": 0, "value": 16, "op": "SCMP_CMP_EQ"}]}]});
        let input = write_profile(dir.path(), "k8s.json", &profile);
        let out = run([
            "export".as_ref(),
            "--to".as_ref(),
            "kubernetes".as_ref(),
            "--name".as_ref(),
            name.as_ref(),
            "--namespace".as_ref(),
            namespace.as_ref(),
            input.as_os_str(),
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let text = stdout(&out);
        let read = yaml_1_1_load(&text);
        assert_eq!(
            read["metadata"],
            json!({"name": name, "namespace": namespace}),
            "{text}"
        );
        assert_eq!(
            read["spec"]["listenerMetadata"], *listener_metadata,
            "{text}"
        );
        assert_eq!(read["spec"]["listenerPath"], profile["listenerPath"]);
        assert_eq!(read["spec"]["syscalls"][0]["names"], json!(syscall_names));
        only_strings(&read, "");
        // A YAML 1.2 reader reads the same document.
        let read_1_2: Value = serde_norway::from_str(&text).unwrap();
        assert_eq!(read, read_1_2, "{text}");
    }
}

/// A `--name` or `--namespace` Kubernetes would refuse (or that is no
/// name at all) is refused in one line naming the option, the value and
/// the rule, before anything is read, written or run.
#[test]
fn kubernetes_names_are_checked_before_anything_happens() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let input = write_profile(
        dir.path(),
        "k8s.json",
        &json!({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": []}),
    );
    let output = dir.path().join("out.yaml");
    let marker = dir.path().join("ran");
    let long = "a".repeat(254);
    let long_label = "a".repeat(64);
    let cases: [(&str, &str, &str); 12] = [
        ("--name", "a\nb", "'\\n'"),
        ("--name", "50%", "'%'"),
        ("--name", "café", "'é'"),
        ("--name", "Web", "'W'"),
        ("--name", &long, "254 characters"),
        ("--name", "", "empty"),
        ("--name", "a..b", "empty '.'-separated part"),
        ("--name", "web.-x", "\"-x\" starts or ends with '-'"),
        ("--name", "web-", "starts or ends with '-'"),
        ("--namespace", "a.b", "'.'"),
        ("--namespace", &long_label, "64 characters"),
        ("--namespace", "-apps", "starts or ends with '-'"),
    ];
    for (option, value, problem) in cases {
        let rule = if option == "--name" {
            "metadata.name must be a DNS-1123 subdomain"
        } else {
            "metadata.namespace must be a DNS-1123 label"
        };
        let expected_start = format!("syscall-profile: error: {option} {value:?} is refused: ");
        let exported = run([
            "export".as_ref(),
            "--to".as_ref(),
            "kubernetes".as_ref(),
            format!("{option}={value}").as_ref(),
            "-o".as_ref(),
            output.as_os_str(),
            input.as_os_str(),
        ]);
        let recorded = run([
            "record".as_ref(),
            "--to".as_ref(),
            "kubernetes".as_ref(),
            format!("{option}={value}").as_ref(),
            "-o".as_ref(),
            output.as_os_str(),
            "--".as_ref(),
            "touch".as_ref(),
            marker.as_os_str(),
        ]);
        for out in [exported, recorded] {
            assert_eq!(out.status.code(), Some(2), "{option} {value:?}");
            let err = stderr(&out);
            assert_eq!(err.lines().count(), 1, "{err}");
            assert!(err.starts_with(&expected_start), "{err}");
            assert!(err.contains(problem) && err.contains(rule), "{err}");
            assert!(stdout(&out).is_empty());
            assert!(
                !output.exists(),
                "{option} {value:?}: an output was written"
            );
            assert!(!marker.exists(), "{option} {value:?}: the command ran");
        }
    }
    // Names Kubernetes takes pass, however a YAML reader would type them.
    for name in ["yes", "0755", "web-frontend.v2", "a", &"a".repeat(253)] {
        let out = run([
            "export".as_ref(),
            "--to".as_ref(),
            "kubernetes".as_ref(),
            "--name".as_ref(),
            name.as_ref(),
            "--namespace".as_ref(),
            "on".as_ref(),
            input.as_os_str(),
        ]);
        assert_eq!(out.status.code(), Some(0), "{name}: {}", stderr(&out));
    }
}

/// The shipped list of the calls runc and crun make after installing the
/// filter (`profiler/data/runtime-tail.json`): names, and per syscall whose
/// arguments are checked, the value tuples.
fn shipped_runtime_tail() -> (Vec<String>, BTreeMap<String, Vec<Vec<u64>>>) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/runtime-tail.json");
    let tail: Value = serde_json::from_str(&fs::read_to_string(path).unwrap()).unwrap();
    let names = tail["syscalls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap().to_owned())
        .collect();
    let arguments = serde_json::from_value(tail["arguments"].clone()).unwrap();
    (names, arguments)
}

/// The shipped runtime tail holds every call runc and crun made after
/// installing the filter in real runs, as the tool records that phase
/// (`--stats` runtime_syscalls and runtime_arguments, without the base
/// sets): containers started by dockerd (runc without no_new_privs, whose
/// tail is the longest), podman with runc and with crun, and containerd's
/// `ctr run` (runc with no_new_privs), several times each since runc's Go
/// runtime varies. A value of a checked syscall must be one the list gives
/// (clone and mmap by the bits their conditions look at: namespace flags,
/// PROT_EXEC).
#[test]
fn runtime_tail_holds_what_runc_and_crun_make() {
    require_root();
    let _hierarchies = hierarchies();
    let (names, arguments) = shipped_runtime_tail();
    let dir = tempfile::tempdir().unwrap();
    let containerd =
        std::env::var("SYSCALL_PROFILE_TEST_CONTAINERD_ADDRESS").unwrap_or_else(|_| {
            panic!(
                "SYSCALL_PROFILE_TEST_CONTAINERD_ADDRESS is not set: run it with `cargo xtask test`"
            )
        });
    let crun = |mut words: Vec<String>| {
        for word in &mut words {
            if word == "--runtime=runc" {
                *word = "--runtime=crun".to_owned();
            }
        }
        words
    };
    let variants: Vec<(&str, Vec<String>)> = vec![
        (
            "docker (runc)",
            common::docker_run(&[common::TEST_IMAGE, "true"]),
        ),
        (
            "podman (runc)",
            common::podman_run(&[common::TEST_IMAGE, "true"]),
        ),
        (
            "podman (crun)",
            crun(common::podman_run(&[common::TEST_IMAGE, "true"])),
        ),
        (
            "ctr (runc)",
            ["ctr", "-a", &containerd, "run", "--rm"]
                .into_iter()
                .map(str::to_owned)
                .chain([
                    format!("docker.io/library/{}", common::TEST_IMAGE),
                    format!("spx-tail-{}", std::process::id()),
                    "true".to_owned(),
                ])
                .collect(),
        ),
    ];
    // Bits the conditions of these syscalls look at.
    let looked_at = |name: &str| match name {
        "clone" => 0x7E02_0000u64,
        "mmap" => 0x4,
        _ => u64::MAX,
    };
    let mut seen: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut beyond = Vec::new();
    for (what, words) in &variants {
        for round in 0..4 {
            let stats = dir.path().join("stats.json");
            let quoted: Vec<String> = words
                .iter()
                .map(|w| format!("'{}'", w.replace('\'', r"'\''")))
                .collect();
            let script = format!(
                "mkdir -p {dir}/hugetlb && mount -t cgroup -o hugetlb none {dir}/hugetlb || exit 99
                 exec timeout 120 {profiler} record -q --no-coverage --no-runtime-base --stats \
                 {stats} -o {dir}/profile.json -- {command}",
                dir = dir.path().display(),
                profiler = common::profiler().display(),
                stats = stats.display(),
                command = quoted.join(" "),
            );
            let out = Command::new("unshare")
                .args(["-m", "--propagation", "private", "sh", "-c", &script])
                .stdin(Stdio::null())
                .output()
                .unwrap();
            assert_eq!(out.status.code(), Some(0), "{what}: {}", stderr(&out));
            let stats: Value = serde_json::from_str(&fs::read_to_string(&stats).unwrap()).unwrap();
            let runtime = stats["runtime_syscalls"].as_array().unwrap();
            assert!(
                runtime.iter().any(|c| c["name"] == "execve"),
                "{what}: no runtime phase recorded: {stats}"
            );
            for call in runtime {
                let name = call["name"].as_str().unwrap().to_owned();
                seen.entry(name.clone())
                    .or_default()
                    .push(format!("{what} #{round}"));
                if !names.contains(&name) {
                    beyond.push(format!("{name} ({what}, run {round})"));
                }
            }
            for entry in stats["runtime_arguments"].as_array().unwrap() {
                let name = entry["name"].as_str().unwrap();
                let mask = looked_at(name);
                let shipped: Vec<Vec<u64>> = arguments
                    .get(name)
                    .map(|tuples| {
                        tuples
                            .iter()
                            .map(|t| t.iter().map(|v| v & mask).collect())
                            .collect()
                    })
                    .unwrap_or_default();
                for values in entry["values"].as_array().unwrap() {
                    let tuple: Vec<u64> = values["raw"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|v| {
                            let text = v.as_str().unwrap().trim_start_matches("0x");
                            u64::from_str_radix(text, 16).unwrap() & mask
                        })
                        .collect();
                    if !shipped.contains(&tuple) {
                        beyond.push(format!(
                            "{name} {:?} ({what}, run {round})",
                            values["symbols"]
                        ));
                    }
                }
            }
        }
    }
    eprintln!("runtime phase, by syscall: {seen:?}");
    assert!(
        beyond.is_empty(),
        "made by the runtime after the filter, not in data/runtime-tail.json: {beyond:?}"
    );
}

/// A root file system of the host's programs: its /usr and /etc bound
/// read-only (with Debian's /bin, /lib, /lib64 and /sbin links into /usr),
/// `work` bound writable at /work, a tmpfs at /tmp. For `runc spec`'s
/// bundle (as mounts of config.json) and for `ctr run --rootfs` (as
/// --mount options), both without no_new_privs, as Docker and the kubelet
/// run a container by default.
struct HostRootfs {
    rootfs: PathBuf,
    work: PathBuf,
}

impl HostRootfs {
    fn new(dir: &Path, work: &Path) -> HostRootfs {
        let rootfs = dir.join("host-rootfs");
        for sub in ["usr", "etc", "work", "tmp", "proc", "dev", "sys"] {
            fs::create_dir_all(rootfs.join(sub)).unwrap();
        }
        for (link, to) in [
            ("bin", "usr/bin"),
            ("lib", "usr/lib"),
            ("lib64", "usr/lib64"),
            ("sbin", "usr/sbin"),
        ] {
            std::os::unix::fs::symlink(to, rootfs.join(link)).unwrap();
        }
        HostRootfs {
            rootfs,
            work: work.to_owned(),
        }
    }

    /// (source, destination, read-only) of each bind.
    fn binds(&self) -> Vec<(String, &'static str, bool)> {
        vec![
            ("/usr".to_owned(), "/usr", true),
            ("/etc".to_owned(), "/etc", true),
            (self.work.display().to_string(), "/work", false),
        ]
    }

    /// A `runc spec` bundle over this root that runs `args` in /work.
    fn bundle(&self, dir: &Path, args: &[&str]) -> PathBuf {
        let bundle = dir.join("host-bundle");
        fs::create_dir_all(&bundle).unwrap();
        let out = Command::new("runc")
            .arg("spec")
            .current_dir(&bundle)
            .output()
            .unwrap();
        assert!(out.status.success(), "runc spec: {}", stderr(&out));
        let path = bundle.join("config.json");
        let mut config: Value = serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
        config["root"] = json!({"path": self.rootfs, "readonly": true});
        config["process"]["terminal"] = json!(false);
        config["process"]["args"] = json!(args);
        config["process"]["cwd"] = json!("/work");
        // As Docker and the kubelet (allowPrivilegeEscalation unset) run a
        // container: runc then installs the filter before setting the
        // capabilities and user, and makes more calls under it.
        config["process"]["noNewPrivileges"] = json!(false);
        let mounts = config["mounts"].as_array_mut().unwrap();
        for (source, destination, readonly) in self.binds() {
            let mode = if readonly { "ro" } else { "rw" };
            mounts.push(
                json!({"destination": destination, "type": "bind", "source": source,
                               "options": ["rbind", mode]}),
            );
        }
        mounts.push(
            json!({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
                           "options": ["nosuid", "nodev", "mode=1777"]}),
        );
        fs::write(&path, serde_json::to_string_pretty(&config).unwrap()).unwrap();
        bundle
    }

    /// `ctr run` over this root, as the kubelet has containerd run a pod's
    /// container with a Localhost profile: containerd's own seccomp loader
    /// reads `profile`.
    fn ctr_run(&self, profile: &Path, id: &str, args: &[&str]) -> Output {
        let address =
            std::env::var("SYSCALL_PROFILE_TEST_CONTAINERD_ADDRESS").unwrap_or_else(|_| {
                panic!(
                    "SYSCALL_PROFILE_TEST_CONTAINERD_ADDRESS is not set: the containerd part \
                     needs the containerd `cargo xtask test` starts"
                )
            });
        let mut command = Command::new("timeout");
        // --allow-new-privs: the kubelet's default (allowPrivilegeEscalation
        // unset), where runc installs the filter earliest.
        command.args([
            "120",
            "ctr",
            "-a",
            &address,
            "run",
            "--rm",
            "--allow-new-privs",
            "--cwd",
            "/work",
        ]);
        for (source, destination, readonly) in self.binds() {
            let mode = if readonly { "ro" } else { "rw" };
            command.arg("--mount").arg(format!(
                "type=bind,src={source},dst={destination},options=rbind:{mode}"
            ));
        }
        command
            .args([
                "--mount",
                "type=tmpfs,src=tmpfs,dst=/tmp,options=nosuid:nodev:mode=1777",
            ])
            .args(["--seccomp", "--seccomp-profile"])
            .arg(profile)
            .arg("--rootfs")
            .arg(&self.rootfs)
            .arg(id)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }
}

/// The JSON file the Security Profiles Operator writes on the node for a
/// `SeccompProfile` (its spec, which is the runtime's seccomp format,
/// without the operator's own fields), from what `export --to kubernetes`
/// wrote.
fn operator_node_file(yaml: &str, path: &Path) {
    let resource = yaml_1_1_load(yaml);
    assert_eq!(resource["kind"], "SeccompProfile", "{yaml}");
    let mut spec = resource["spec"].clone();
    let spec_object = spec.as_object_mut().unwrap();
    for operator_only in ["baseProfileName", "disabled"] {
        spec_object.remove(operator_only);
    }
    fs::write(path, serde_json::to_string_pretty(&spec).unwrap()).unwrap();
}

/// What a native recording of a workload must do in a container: record
/// `record_args` (in a fresh work directory after `prepare`) with the
/// default options, then run `run_args` in /work (after `reset`) in a
/// runc bundle under `export --to oci` and under containerd with the
/// Security Profiles Operator's file of `export --to kubernetes`; returns
/// both runs' outputs and the two exports' standard error.
struct AsIs<'a> {
    record_args: &'a [&'a str],
    run_args: &'a [&'a str],
    prepare: &'a dyn Fn(&Path),
    reset: &'a dyn Fn(&Path),
}

struct AsIsRun {
    runc: Output,
    containerd: Output,
    export_notes: String,
}

fn learned_natively_runs_as_is(dir: &Path, what: &str, case: &AsIs<'_>) -> AsIsRun {
    let work = dir.join("work");
    fs::create_dir_all(&work).unwrap();
    (case.prepare)(&work);
    let learned = dir.join("learned.json");
    let recorded = Command::new(common::profiler())
        .args(["record", "-q", "-o"])
        .arg(&learned)
        .arg("--")
        .args(case.record_args)
        .current_dir(&work)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(
        recorded.status.code(),
        Some(0),
        "{what}: {}",
        stderr(&recorded)
    );
    let host = HostRootfs::new(dir, &work);

    // OCI: runc from a bundle.
    let bundle = host.bundle(dir, case.run_args);
    let exported = run([
        "export".as_ref(),
        "--to".as_ref(),
        "oci".as_ref(),
        "--bundle".as_ref(),
        bundle.as_os_str(),
        learned.as_os_str(),
    ]);
    assert_eq!(
        exported.status.code(),
        Some(0),
        "{what}: {}",
        stderr(&exported)
    );
    let mut export_notes = stderr(&exported);
    (case.reset)(&work);
    let id = format!("spx-asis-{what}-{}", std::process::id());
    let runc = run_bundle("runc", dir, &bundle, &id);

    // Kubernetes: the operator's file on the node, read by containerd.
    let yaml_path = dir.join("learned.yaml");
    let exported = run([
        "export".as_ref(),
        "--to".as_ref(),
        "kubernetes".as_ref(),
        "-o".as_ref(),
        yaml_path.as_os_str(),
        learned.as_os_str(),
    ]);
    assert_eq!(
        exported.status.code(),
        Some(0),
        "{what}: {}",
        stderr(&exported)
    );
    export_notes.push_str(&stderr(&exported));
    let node_file = dir.join("operator-node.json");
    operator_node_file(&fs::read_to_string(&yaml_path).unwrap(), &node_file);
    // containerd can lose the end of a container's output when it exits
    // right after printing (concourse/concourse#6775): a run that
    // succeeded with a strict prefix of runc's output, the oracle, is run
    // again, twice at most, and said.
    let mut attempt = 0;
    let containerd = loop {
        (case.reset)(&work);
        let out = host.ctr_run(&node_file, &format!("{id}-ctr{attempt}"), case.run_args);
        let (got, want) = (stdout(&out), stdout(&runc));
        if attempt == 2 || !out.status.success() || got == want || !want.starts_with(&got) {
            break out;
        }
        eprintln!("{what}: containerd lost the end of the output ({got:?}); running it again");
        attempt += 1;
    };
    AsIsRun {
        runc,
        containerd,
        export_notes,
    }
}

/// Both exports said they added the runtime's calls, as learned natively.
fn said_the_runtime_tail_was_added(notes: &str) {
    let said: Vec<&str> = notes
        .lines()
        .filter(|l| {
            l.starts_with("syscall-profile: added the ")
                && l.contains(
                    " calls runc and crun make after installing the filter (the profile was \
                     learned natively): ",
                )
        })
        .collect();
    assert_eq!(said.len(), 2, "{notes}");
}

const THREADS_C: &str = r#"
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static void *work(void *arg) {
    (void)arg;
    FILE *f = fopen("out.txt", "w");
    if (!f) return (void *)1;
    fputs("written by a thread\n", f);
    return fclose(f) ? (void *)1 : NULL;
}

int main(int argc, char **argv) {
    pthread_t thread;
    void *failed;
    if (pthread_create(&thread, NULL, work, NULL) || pthread_join(thread, &failed) || failed) {
        perror("thread");
        return 1;
    }
    char line[64];
    FILE *f = fopen("out.txt", "r");
    if (!f || !fgets(line, sizeof line, f)) return 1;
    fputs(line, stdout);
    if (argc > 1 && strcmp(argv[1], "mkdir") == 0) {
        if (mkdir("made", 0755)) printf("mkdir: %s\n", strerror(errno));
        else puts("mkdir: made");
    }
    return 0;
}
"#;

/// Compiles [`THREADS_C`] in `dir` with gcc: `dir/threads`.
fn build_threads_c(dir: &Path) -> PathBuf {
    need("gcc", "gcc");
    fs::write(dir.join("threads.c"), THREADS_C).unwrap();
    let program = dir.join("threads");
    let out = Command::new("gcc")
        .args(["-O2", "-pthread", "-o"])
        .arg(&program)
        .arg(dir.join("threads.c"))
        .output()
        .unwrap();
    assert!(out.status.success(), "gcc: {}", stderr(&out));
    program
}

/// A threaded C program (pthread_create, a file written by the thread),
/// recorded natively with the default options, runs as exported (no
/// --widen, nothing added by hand) under runc from `export --to oci` and
/// under containerd from the operator's file of `export --to kubernetes`;
/// the export says it added the runtime's own calls. mkdir, which the
/// recording never made, is refused by the kernel with EPERM under both,
/// and made without the filter. Before, runc and containerd could not
/// start the container under the exported profile.
#[test]
fn learned_threaded_c_program_runs_as_is_under_runc_and_containerd() {
    require_root();
    let _hierarchies = hierarchies();
    need("runc", "runc");
    need("gcc", "gcc");
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    fs::create_dir_all(&work).unwrap();
    build_threads_c(&work);
    let reset = |work: &Path| {
        let _ = fs::remove_file(work.join("out.txt"));
        let _ = fs::remove_dir(work.join("made"));
    };
    let ran = learned_natively_runs_as_is(
        dir.path(),
        "threads",
        &AsIs {
            record_args: &["./threads"],
            run_args: &["/work/threads", "mkdir"],
            prepare: &|_| {},
            reset: &reset,
        },
    );
    let expected = "written by a thread\nmkdir: Operation not permitted\n";
    assert_eq!(stdout(&ran.runc), expected, "runc: {}", stderr(&ran.runc));
    assert_eq!(
        stdout(&ran.containerd),
        expected,
        "containerd: {}",
        stderr(&ran.containerd)
    );
    said_the_runtime_tail_was_added(&ran.export_notes);
    assert!(!work.join("made").exists());

    // The control: the same bundle without the filter makes the directory.
    let path = dir.path().join("host-bundle/config.json");
    let mut config: Value = serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
    config["linux"].as_object_mut().unwrap().remove("seccomp");
    fs::write(&path, serde_json::to_string_pretty(&config).unwrap()).unwrap();
    reset(&work);
    let id = format!("spx-asis-control-{}", std::process::id());
    let out = run_bundle("runc", dir.path(), &dir.path().join("host-bundle"), &id);
    assert_eq!(
        stdout(&out),
        "written by a thread\nmkdir: made\n",
        "{}",
        stderr(&out)
    );
}

/// sqlite3 in WAL mode and in its default (rollback journal) mode, each
/// recorded natively with the default options, runs as exported under
/// runc (`export --to oci`) and containerd (the operator's file of `export
/// --to kubernetes`), its database in the writable /work. Before, neither
/// runtime could start the container.
#[test]
fn learned_sqlite3_runs_as_is_under_runc_and_containerd() {
    require_root();
    let _hierarchies = hierarchies();
    need("runc", "runc");
    need("sqlite3", "sqlite3");
    for (mode, sql, expected) in [
        (
            "wal",
            "PRAGMA journal_mode=WAL; create table t(x); insert into t values(1); select * from t;",
            "wal\n1\n",
        ),
        (
            "rollback",
            "create table t(x); insert into t values(1); select * from t;",
            "1\n",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let reset = |work: &Path| {
            for file in ["db", "db-wal", "db-shm", "db-journal"] {
                let _ = fs::remove_file(work.join(file));
            }
        };
        let ran = learned_natively_runs_as_is(
            dir.path(),
            &format!("sqlite-{mode}"),
            &AsIs {
                record_args: &["/usr/bin/sqlite3", "db", sql],
                run_args: &["/usr/bin/sqlite3", "db", sql],
                prepare: &|_| {},
                reset: &reset,
            },
        );
        assert_eq!(
            stdout(&ran.runc),
            expected,
            "{mode}: runc: {}",
            stderr(&ran.runc)
        );
        assert_eq!(
            stdout(&ran.containerd),
            expected,
            "{mode}: containerd: {}",
            stderr(&ran.containerd)
        );
        said_the_runtime_tail_was_added(&ran.export_notes);
    }
}

/// A JVM program (a single-file source launch whose thread prints a line),
/// recorded natively with the default options, runs as exported under runc
/// (`export --to oci`) and containerd (the operator's file of `export --to
/// kubernetes`). Before, neither runtime could start the container.
#[test]
fn learned_jvm_program_runs_as_is_under_runc_and_containerd() {
    require_root();
    let _hierarchies = hierarchies();
    need("runc", "runc");
    need("java", "openjdk-17-jdk-headless");
    let java = fs::canonicalize("/usr/bin/java").unwrap();
    let java_text = java.to_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ran = learned_natively_runs_as_is(
        dir.path(),
        "jvm",
        &AsIs {
            record_args: &[java_text, "Hello.java"],
            run_args: &[java_text, "Hello.java"],
            prepare: &|work| {
                fs::write(
                    work.join("Hello.java"),
                    "public class Hello { public static void main(String[] a) throws Exception { \
                     Thread t = new Thread(() -> System.out.println(\"hello from a thread\")); \
                     t.start(); t.join(); } }\n",
                )
                .unwrap();
            },
            reset: &|_| {},
        },
    );
    let expected = "hello from a thread\n";
    assert_eq!(stdout(&ran.runc), expected, "runc: {}", stderr(&ran.runc));
    assert_eq!(
        stdout(&ran.containerd),
        expected,
        "containerd: {}",
        stderr(&ran.containerd)
    );
    said_the_runtime_tail_was_added(&ran.export_notes);
}
