//! `deploy/`: the node agent's Kubernetes manifests, validated against the
//! Kubernetes API's own schemas (those of [`KUBERNETES_VERSION`], bundled by
//! kubernetes-validate, which `cargo xtask test` installs pinned) in strict
//! mode, where a field the API does not have is an error. A schema check
//! only: no cluster runs them here.

use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
};

use serde::Deserialize;
use serde_json::Value;

/// The Kubernetes release whose API the manifests are checked against.
const KUBERNETES_VERSION: &str = "1.30";

/// Environment variable naming the `kubernetes-validate` program.
const VALIDATOR_VAR: &str = "SYSCALL_PROFILE_TEST_KUBERNETES_VALIDATE";

/// The program `cargo xtask test` installed; fails, naming it, when unset.
fn validator() -> PathBuf {
    let path = std::env::var_os(VALIDATOR_VAR).map(PathBuf::from);
    let path = path.unwrap_or_else(|| {
        panic!(
            "{VALIDATOR_VAR} is not set: this test needs the kubernetes-validate (PyPI) that \
             `cargo xtask test` installs into target/kubernetes-validate/venv"
        )
    });
    assert!(
        path.is_file(),
        "{VALIDATOR_VAR}={} is not a file: run `cargo xtask test`, which installs \
         kubernetes-validate there",
        path.display()
    );
    path
}

/// `deploy/` in the workspace.
fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the profiler crate is inside the workspace")
        .join("deploy")
}

/// Every `deploy/*.yaml`, by name.
fn manifests() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(deploy_dir())
        .expect("read deploy/")
        .map(|entry| entry.expect("read deploy/").path())
        .filter(|path| path.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(
        files.contains(&deploy_dir().join("agent-daemonset.yaml")),
        "deploy/agent-daemonset.yaml is missing: {files:?}"
    );
    files
}

/// The documents of a YAML file, empty ones left out (as kubectl does).
fn documents(text: &str) -> Vec<Value> {
    serde_norway::Deserializer::from_str(text)
        .map(|document| Value::deserialize(document).expect("YAML"))
        .filter(|document| !document.is_null())
        .collect()
}

/// `kind/name` of a resource, lowercase kind, as kubernetes-validate says it.
fn kind_name(resource: &Value) -> String {
    format!(
        "{}/{}",
        resource["kind"].as_str().expect("a kind").to_lowercase(),
        resource["metadata"]["name"].as_str().expect("a name")
    )
}

/// Runs kubernetes-validate in strict mode on `file`; `Ok` when it passed
/// every document of the file and said nothing else, else its output.
/// (It only warns, and exits 0, for a kind it has no schema for: that is a
/// failure here too.)
fn validate(file: &Path) -> Result<(), String> {
    let text = fs::read_to_string(file).expect("read the manifest");
    let output = Command::new(validator())
        .args(["--strict", "-k", KUBERNETES_VERSION])
        .arg(file)
        .output()
        .expect("run kubernetes-validate");
    let said = format!(
        "kubernetes-validate --strict -k {KUBERNETES_VERSION} {} ({}):\n{}{}",
        file.display(),
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let expected: Vec<String> = documents(&text)
        .iter()
        .map(|resource| {
            format!(
                "INFO {} passed for resource {} against version {KUBERNETES_VERSION}",
                file.display(),
                kind_name(resource)
            )
        })
        .collect();
    let lines: Vec<&str> = stdout.lines().collect();
    match output.status.success() && lines == expected {
        true => Ok(()),
        false => Err(said),
    }
}

/// Every manifest a user applies passes the API's schema, every document.
#[test]
fn every_manifest_validates_strictly() {
    let failed: Vec<String> = manifests()
        .iter()
        .filter_map(|file| validate(file).err())
        .collect();
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

/// The check can fail: a field the pod spec does not have, in a copy of
/// the DaemonSet, is named; so is a kind the schemas do not know.
#[test]
fn a_broken_copy_is_rejected() {
    let original =
        fs::read_to_string(deploy_dir().join("agent-daemonset.yaml")).expect("read the manifest");
    let dir = tempfile::tempdir().expect("a temporary directory");

    let field = "      hostPID: true\n";
    assert!(original.contains(field), "the DaemonSet has no `{field}`");
    let unknown = dir.path().join("unknown-field.yaml");
    fs::write(
        &unknown,
        original.replace(field, &format!("{field}      hostPid: true\n")),
    )
    .unwrap();
    let said = validate(&unknown).expect_err("an unknown field must be rejected");
    assert!(
        said.contains("ERROR") && said.contains("'hostPid' was unexpected"),
        "{said}"
    );

    let kind = "kind: DaemonSet\n";
    assert!(original.contains(kind), "the manifest has no `{kind}`");
    let unknown_kind = dir.path().join("unknown-kind.yaml");
    fs::write(&unknown_kind, original.replace(kind, "kind: DaemonSett\n")).unwrap();
    let said = validate(&unknown_kind).expect_err("an unknown kind must be rejected");
    assert!(said.contains("WARN"), "{said}");
}

/// What the schema cannot say: the agent runs as the brief for a node
/// agent asks (host PID namespace, privileged, every taint tolerated, Linux
/// nodes), its `--output` is a mount of the node's directory, and every
/// mount names a volume of the pod.
#[test]
fn the_agent_writes_to_the_node_s_directory() {
    let text =
        fs::read_to_string(deploy_dir().join("agent-daemonset.yaml")).expect("read the manifest");
    let documents = documents(&text);
    let daemonset = documents
        .iter()
        .find(|d| d["kind"] == "DaemonSet")
        .expect("a DaemonSet");
    let namespace = documents
        .iter()
        .find(|d| d["kind"] == "Namespace")
        .expect("a Namespace");
    assert_eq!(
        daemonset["metadata"]["namespace"],
        namespace["metadata"]["name"]
    );
    let pod = &daemonset["spec"]["template"]["spec"];
    assert_eq!(pod["hostPID"], true);
    assert_eq!(pod["nodeSelector"]["kubernetes.io/os"], "linux");
    assert_eq!(
        pod["tolerations"],
        serde_json::json!([{"operator": "Exists"}])
    );
    assert!(pod["terminationGracePeriodSeconds"].as_u64() >= Some(30));

    let containers = pod["containers"].as_array().expect("containers");
    let [agent] = containers.as_slice() else {
        panic!("one container: {containers:?}");
    };
    assert_eq!(agent["securityContext"]["privileged"], true);
    assert!(agent["resources"]["limits"]["memory"].is_string());
    let command: Vec<&str> = agent["command"]
        .as_array()
        .expect("a command")
        .iter()
        .map(|word| word.as_str().expect("a word"))
        .collect();
    assert_eq!(command[..2], ["syscall-profile", "agent"]);
    let after = |flag: &str| {
        let at = command.iter().position(|w| *w == flag);
        at.and_then(|at| command.get(at + 1).copied())
    };
    assert_eq!(after("--to"), Some("kubernetes"));
    let output = after("--output").expect("--output DIR");

    let volumes = pod["volumes"].as_array().expect("volumes");
    let host_path = |name: &Value| {
        let volume = volumes.iter().find(|v| v["name"] == *name);
        let volume = volume.unwrap_or_else(|| panic!("no volume {name}"));
        volume["hostPath"]["path"].as_str().map(str::to_owned)
    };
    let mounts = agent["volumeMounts"].as_array().expect("volumeMounts");
    let mounted: Vec<(String, Option<String>, bool)> = mounts
        .iter()
        .map(|m| {
            (
                m["mountPath"].as_str().expect("a mountPath").to_owned(),
                host_path(&m["name"]),
                m["readOnly"] == true,
            )
        })
        .collect();
    let output_mount = mounted.iter().find(|(path, ..)| path == output);
    assert_eq!(
        output_mount,
        Some(&(output.to_owned(), Some(output.to_owned()), false)),
        "--output {output} is not a writable mount of the node's {output}: {mounted:?}"
    );
    for host in [
        "/sys/fs/cgroup",
        "/sys/kernel/btf",
        "/run/containerd/containerd.sock",
    ] {
        assert!(
            mounted.contains(&(host.to_owned(), Some(host.to_owned()), true)),
            "{host} is not mounted read-only from the node: {mounted:?}"
        );
    }
}
