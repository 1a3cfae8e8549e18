//! `cargo xtask baseline NAME` (also `docker-baseline`, for `docker`):
//! writes one of the engine-default baselines the tool ships
//! (`profiler/data/*-baseline.json`) from its source profile.
//!
//! - `docker`: moby/profiles' `seccomp/default.json` v0.2.3, Docker's
//!   current default (source: `../shared/reference/docker-default-seccomp.json`).
//! - `docker-20.10`: the built-in profile of Docker engine 20.10 (Debian
//!   12's docker.io 20.10.24), moby v20.10.24's `profiles/seccomp/default.json`;
//!   the engine installs no copy of it, so `--source` names one (`git show
//!   v20.10.24:profiles/seccomp/default.json` in a moby checkout).
//! - `podman`: containers-common's `/usr/share/containers/seccomp.json`,
//!   installed with podman; its version comes from dpkg.
//! - `containerd`: containerd's RuntimeDefault is Go code
//!   (`contrib/seccomp/seccomp_default.go`), compiled into containerd; its
//!   Docker-format transcription is the source (`--source FILE`).
//!
//! The output is the project's own representation of the same facts: per
//! syscall, the list of the profile's rules that name it (action, errno,
//! argument checks, includes/excludes), in the profile's order, so a
//! reader can see at once everything the engine decides about one syscall.
//! Comments and containers-common's errno names are left out (its numeric
//! `errnoRet` says the same): the reasons the tool gives are its own
//! (`profiler/src/baseline/notes.rs`). Run it once per new engine release;
//! the tool itself never reads the source file.

use std::{collections::BTreeMap, fs, path::PathBuf, process::Command};

use anyhow::{Context, Result, bail};
use serde_json::{Map, Value, json};

use crate::workspace::Workspace;

/// The baselines the tool ships, by the name `--baseline` takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Which {
    /// moby's current default (moby/profiles v0.2.3).
    Docker,
    /// Docker engine 20.10's built-in default.
    #[value(name = "docker-20.10")]
    Docker2010,
    /// podman's default: containers-common's seccomp.json.
    Podman,
    /// containerd's RuntimeDefault.
    Containerd,
}

impl Which {
    /// Where the baseline goes, relative to the workspace root.
    fn output(self) -> &'static str {
        match self {
            Which::Docker => "profiler/data/docker-baseline.json",
            Which::Docker2010 => "profiler/data/docker-20.10-baseline.json",
            Which::Podman => "profiler/data/podman-baseline.json",
            Which::Containerd => "profiler/data/containerd-baseline.json",
        }
    }
}

#[derive(clap::Args)]
pub struct Options {
    /// Which baseline to write.
    #[arg(value_enum, default_value = "docker")]
    which: Which,
    /// The source profile (Docker format); default: for `docker`,
    /// `../shared/reference/docker-default-seccomp.json` beside the
    /// workspace; for `podman`, `/usr/share/containers/seccomp.json`;
    /// `docker-20.10` and `containerd` have no copy on the machine: give one.
    #[arg(long, value_name = "FILE")]
    source: Option<PathBuf>,
    /// What the source is, recorded in the output; default: per baseline
    /// (for `podman`, with the installed containers-common's version).
    #[arg(long)]
    source_name: Option<String>,
}

pub fn run(ws: &Workspace, options: &Options) -> Result<()> {
    let source = match (&options.source, options.which) {
        (Some(path), _) => path.clone(),
        (None, Which::Docker) => ws
            .root
            .join("../shared/reference/docker-default-seccomp.json"),
        (None, Which::Podman) => PathBuf::from(PODMAN_SOURCE),
        (None, Which::Docker2010) => bail!(
            "the Docker 20.10 engine installs no copy of its built-in profile: give moby \
             v20.10.24's profiles/seccomp/default.json with --source FILE (`git show \
             v20.10.24:profiles/seccomp/default.json` in a moby checkout)"
        ),
        (None, Which::Containerd) => bail!(
            "containerd's default profile is compiled into containerd: give a Docker-format \
             transcription of contrib/seccomp/seccomp_default.go with --source FILE"
        ),
    };
    let source_name = match (&options.source_name, options.which) {
        (Some(name), _) => name.clone(),
        (None, Which::Docker) => "moby/profiles seccomp/default.json v0.2.3".to_owned(),
        (None, Which::Docker2010) => "moby v20.10.24 profiles/seccomp/default.json".to_owned(),
        (None, Which::Podman) => format!(
            "containers-common {}, {PODMAN_SOURCE}",
            installed_version("golang-github-containers-common")?
        ),
        (None, Which::Containerd) => {
            "containerd v1.6.20 contrib/seccomp/seccomp_default.go".to_owned()
        }
    };
    let text = fs::read_to_string(&source).with_context(|| {
        format!(
            "cannot read the source profile at {} (give it with --source FILE)",
            source.display()
        )
    })?;
    let profile: Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", source.display()))?;
    let baseline = regroup(&profile, &source_name)?;
    let out = render(&baseline)?;
    let path = ws.root.join(options.which.output());
    fs::write(&path, out).with_context(|| format!("cannot write {}", path.display()))?;
    eprintln!("xtask: wrote {}", path.display());
    Ok(())
}

/// podman's default profile, as containers-common installs it.
const PODMAN_SOURCE: &str = "/usr/share/containers/seccomp.json";

/// The upstream version of an installed Debian package (`0.50.1` of
/// `0.50.1+ds1-4`).
fn installed_version(package: &str) -> Result<String> {
    let out = Command::new("dpkg-query")
        .args(["-W", "-f", "${Version}", package])
        .output()
        .context("cannot run dpkg-query")?;
    if !out.status.success() {
        bail!("{package} is not installed (apt-get install podman brings it)");
    }
    let version = String::from_utf8_lossy(&out.stdout);
    let upstream = version.split(['+', '-', '~']).next().unwrap_or("").trim();
    if upstream.is_empty() {
        bail!("dpkg-query gives no version for {package}");
    }
    Ok(upstream.to_owned())
}

/// One line per syscall (and per architecture), so that a diff of two
/// Docker releases reads as a list of changed syscalls.
fn render(baseline: &Value) -> Result<String> {
    let line = |value: &Value| serde_json::to_string(value);
    let mut out = String::from("{\n");
    for key in ["schema", "source", "defaultAction", "defaultErrnoRet"] {
        out.push_str(&format!(
            "  {}: {},\n",
            line(&json!(key))?,
            line(&baseline[key])?
        ));
    }
    out.push_str("  \"archMap\": [\n");
    let arches = baseline["archMap"].as_array().context("no archMap")?;
    for (i, entry) in arches.iter().enumerate() {
        let comma = if i + 1 < arches.len() { "," } else { "" };
        out.push_str(&format!("    {}{comma}\n", line(entry)?));
    }
    out.push_str("  ],\n  \"syscalls\": {\n");
    let syscalls = baseline["syscalls"].as_object().context("no syscalls")?;
    for (i, (name, grants)) in syscalls.iter().enumerate() {
        let comma = if i + 1 < syscalls.len() { "," } else { "" };
        out.push_str(&format!(
            "    {}: {}{comma}\n",
            line(&json!(name))?,
            line(grants)?
        ));
    }
    out.push_str("  }\n}\n");
    Ok(out)
}

/// Docker's rules, regrouped by syscall.
fn regroup(profile: &Value, source_name: &str) -> Result<Value> {
    let rules = profile["syscalls"]
        .as_array()
        .context("the profile has no `syscalls` list")?;
    let mut by_name: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for rule in rules {
        let Some(rule) = rule.as_object() else {
            bail!("a rule is not an object: {rule}");
        };
        if rule.contains_key("errno") && !rule.contains_key("errnoRet") {
            bail!("a rule gives an errno by name only (no errnoRet): {rule:?}");
        }
        let mut grant = Map::new();
        for field in ["action", "errnoRet", "args", "includes", "excludes"] {
            match rule.get(field) {
                None | Some(Value::Null) => {}
                Some(Value::Array(a)) if a.is_empty() => {}
                Some(Value::Object(o)) if o.is_empty() => {}
                Some(value) => {
                    grant.insert(field.to_owned(), value.clone());
                }
            }
        }
        let names: Vec<&str> = match (rule.get("names"), rule.get("name")) {
            (Some(Value::Array(names)), _) => names.iter().filter_map(Value::as_str).collect(),
            (_, Some(Value::String(name))) => vec![name.as_str()],
            _ => bail!("a rule names no syscall: {rule:?}"),
        };
        for name in names {
            by_name
                .entry(name.to_owned())
                .or_default()
                .push(Value::Object(grant.clone()));
        }
    }
    Ok(json!({
        "schema": "syscall-profile/docker-baseline/v1",
        "source": source_name,
        "defaultAction": profile["defaultAction"],
        "defaultErrnoRet": profile["defaultErrnoRet"],
        "archMap": profile["archMap"],
        "syscalls": by_name,
    }))
}
