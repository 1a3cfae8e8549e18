//! What each fuzz target checks of one input: a function per target, which
//! the target's binary (`fuzz_targets/NAME.rs`) calls with libFuzzer's
//! bytes, and which `profiler/tests/fuzz_regressions.rs` calls (it
//! includes this file) with each input kept in `fuzz/regressions/NAME/`.
//! A check panics when the tool misbehaves on the input: a panic of the
//! tool itself, an error of more than one line, or a property below that
//! does not hold.

use std::{
    fs,
    path::{Path, PathBuf},
    sync::OnceLock,
};

use syscall_profile::{
    baseline::{Baseline, DockerContext, EffectivePolicy, docker_capabilities},
    diff,
    export::oci::{self, OciSeccomp},
    input::Limit,
    merge::{Input, merge},
    profile::{Arch, KernelVersion, Profile},
    record::stats::Stats,
    scan::{
        self, ScanOptions,
        analysis::ObjectSummary,
        tree::{Node, Tree},
    },
};

/// An error the tool reports must be one line naming what to fix, with no
/// control character the input chose (a newline, a terminal's escape).
fn one_line(what: &str, message: &str) {
    assert!(
        !message.trim_end().chars().any(char::is_control) && !message.trim().is_empty(),
        "{what}: the error is not one line: {message:?}"
    );
}

/// `parse_profile`: any bytes parse as a profile or fail in a line; a
/// profile that parses survives the rest of the tool: written back, it
/// parses to the same profile, and evaluating, merging and diffing it do
/// not panic; a merge's output parses.
pub fn parse_profile(data: &[u8]) {
    let parsed = match Profile::parse(data) {
        Ok(parsed) => parsed,
        Err(e) => return one_line("a profile", &e.to_string()),
    };
    for warning in &parsed.warnings {
        one_line("a profile's warning", &warning.to_string());
    }
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
    let _ = diff::diff(&baseline, &profile, "fuzz.json", &context);
    if let Ok(merged) = merge(&[
        Input {
            name: "a",
            profile: &profile,
        },
        Input {
            name: "b",
            profile: &baseline.profile,
        },
    ]) {
        let text = merged.to_json();
        Profile::parse(text.as_bytes())
            .unwrap_or_else(|e| panic!("a merge's output does not parse: {e}\n{text}"));
    }
}

/// `elf`: any bytes, analysed as `scan` analyses each object it loads
/// ([`scan::analyse_object`]), give a summary or a one-line error; a
/// summary reads back from its cache entry's JSON as the same summary.
pub fn elf(data: &[u8]) {
    let summary = match scan::analyse_object(Path::new("fuzz.elf"), data, &|| (), &|| None) {
        Ok(summary) => summary,
        Err(e) => return one_line("an object", &e.to_string()),
    };
    let entry = serde_json::to_vec(&summary).expect("a summary serializes");
    let back: ObjectSummary = serde_json::from_slice(&entry)
        .unwrap_or_else(|e| panic!("a summary's cache entry does not read back: {e}"));
    assert!(
        serde_json::to_vec(&back).expect("a summary serializes") == entry,
        "a summary read back from its cache entry differs"
    );
}

/// Where `image_tar` writes its archive: a directory of its own, which
/// must hold nothing else after the archive is read.
fn scratch() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("a temporary directory"))
        .path()
}

/// The most paths of one archive `image_tar` looks at, and scans.
const PATHS: usize = 64;
const SCANS: usize = 4;

/// `image_tar`: any bytes, read as an image's export is ([`Tree::archive`]),
/// are indexed or refused in a line; every path the archive names then
/// resolves inside the image (never to a link, never climbing out), a
/// regular file maps to exactly its size and its first bytes are the map's,
/// a scan of it (as `scan --image IMAGE PATH`) ends in a summary or a line,
/// and nothing is created beside the archive.
pub fn image_tar(data: &[u8]) {
    let dir = scratch();
    let archive = dir.join("export.tar");
    fs::write(&archive, data).expect("write the archive");
    let tree = match Tree::archive(&archive, None) {
        Ok(tree) => tree,
        Err(e) => return one_line("an image's export", &e.to_string()),
    };
    let mut names: Vec<PathBuf> = Vec::new();
    if let Ok(entries) = tar::Archive::new(data).entries() {
        for entry in entries.take(PATHS) {
            let Ok(entry) = entry else { break };
            if let Ok(path) = entry.path() {
                names.push(Path::new("/").join(path));
            }
        }
    }
    let limit = Limit {
        bytes: 1 << 20,
        what: "a file",
    };
    let mut scans = 0;
    for name in &names {
        let _ = tree.node(name);
        let Some(resolved) = tree.resolve(name) else {
            continue;
        };
        assert!(
            resolved.is_absolute()
                && !resolved
                    .components()
                    .any(|c| matches!(c, std::path::Component::ParentDir)),
            "{} resolved out of the image: {}",
            name.display(),
            resolved.display()
        );
        let node = tree.node(&resolved);
        assert!(
            !matches!(node, Some(Node::Symlink(_))),
            "{} resolved to a link: {}",
            name.display(),
            resolved.display()
        );
        if let Some(Node::File { size }) = node {
            match tree.map(&resolved, limit) {
                Ok(bytes) => {
                    assert_eq!(bytes.len() as u64, size, "{}", resolved.display());
                    let head = tree
                        .head(&resolved, 16)
                        .unwrap_or_else(|e| panic!("{}: {e}", resolved.display()));
                    assert_eq!(head, bytes[..bytes.len().min(16)], "{}", resolved.display());
                }
                Err(e) => one_line("a file of an image", &e.to_string()),
            }
            if scans < SCANS {
                scans += 1;
                let options = ScanOptions {
                    cache_dir: None,
                    ..ScanOptions::in_root(tree.clone())
                };
                if let Err(e) = scan::reachable(name, &options) {
                    one_line("a scan in an image", &e.to_string());
                }
            }
        }
    }
    drop(tree);
    let left: Vec<_> = fs::read_dir(dir)
        .expect("list the scratch directory")
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(left, ["export.tar"], "reading the archive made files");
}

/// The `linux.seccomp` object `oci_config` writes into every spec.
fn seccomp() -> &'static OciSeccomp {
    static SECCOMP: OnceLock<OciSeccomp> = OnceLock::new();
    SECCOMP.get_or_init(|| {
        let text = br#"{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
            "architectures": ["SCMP_ARCH_X86_64"],
            "syscalls": [{"names": ["read", "write", "exit_group"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["socket"], "action": "SCMP_ACT_ALLOW",
                 "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]}]}"#;
        let profile = Profile::parse(text).expect("the profile parses").profile;
        oci::to_oci(&profile).expect("the profile converts")
    })
}

/// `oci_config`: any bytes, as a bundle's `config.json` for `export --to
/// oci --bundle`, are refused in a line, or written back with
/// `linux.seccomp` the profile's object, no complain-mode annotation, and
/// everything else as it was.
pub fn oci_config(data: &[u8]) {
    let seccomp = seccomp();
    let text = match oci::config_with_seccomp("config.json", data, seccomp) {
        Ok(text) => text,
        Err(e) => return one_line("a runtime spec", &e.to_string()),
    };
    let mut written: serde_json::Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("the written spec does not parse: {e}\n{text}"));
    let mut given: serde_json::Value =
        serde_json::from_slice(data).expect("a spec the export took parses");
    let linux = written
        .get_mut("linux")
        .and_then(|l| l.as_object_mut())
        .expect("the written spec has a linux object");
    let object = linux
        .remove("seccomp")
        .expect("the written spec has linux.seccomp");
    assert_eq!(
        object,
        serde_json::to_value(seccomp).expect("the object serializes"),
        "linux.seccomp is not the profile's"
    );
    let given_root = given
        .as_object_mut()
        .expect("the spec the export took is an object");
    match given_root.get_mut("linux").and_then(|l| l.as_object_mut()) {
        Some(linux) => {
            linux.remove("seccomp");
        }
        None => {
            let written_root = written.as_object_mut().expect("an object");
            assert_eq!(
                written_root.remove("linux"),
                Some(serde_json::Value::Object(Default::default())),
                "a spec without linux got more than linux.seccomp"
            );
        }
    }
    // An enforcing export takes the complain-mode mark away (and
    // `annotations` with it when nothing else is in it).
    if let Some(annotations) = given_root
        .get_mut("annotations")
        .and_then(|a| a.as_object_mut())
        && annotations.remove(oci::COMPLAIN_ANNOTATION).is_some()
        && annotations.is_empty()
    {
        given_root.remove("annotations");
    }
    assert_eq!(
        written, given,
        "the export changed the spec beyond linux.seccomp and the complain-mode mark"
    );
}

/// `stats`: any stats `--stats` may be read back as (its own type), written
/// as `--stats` writes them, read back the same.
pub fn stats(data: &[u8]) {
    let Ok(stats) = serde_json::from_slice::<Stats>(data) else {
        return;
    };
    let text = stats.to_text();
    let again: Stats = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("stats the tool wrote do not read back: {e}\n{text}"));
    assert_eq!(again.to_text(), text, "stats changed when read back");
}

/// `scan_cache`: any bytes, read back as a scan cache entry is
/// ([`scan::cache::parse`]), are no entry, or a summary the scan's walk
/// over its functions ([`scan::reachable_in_summary`]) takes without a
/// panic: every function it reports is one the summary has, and each
/// reachable syscall names where it is made.
pub fn scan_cache(data: &[u8]) {
    let Some(summary) = scan::cache::parse(data) else {
        return;
    };
    let functions = summary.functions.len();
    let found = scan::reachable_in_summary(Path::new("fuzz.so"), summary);
    assert!(
        found
            .objects
            .iter()
            .all(|o| o.reachable_functions <= functions),
        "more functions reached than the summary has"
    );
    assert!(
        found.syscalls.values().all(|origins| !origins.is_empty()),
        "a reachable syscall with no origin"
    );
}
