//! `cargo xtask docker-baseline`: writes the Docker default baseline the
//! tool ships (`profiler/data/docker-baseline.json`) from a copy of
//! moby/profiles' `seccomp/default.json`.
//!
//! The output is the project's own representation of the same facts: per
//! syscall, the list of Docker's rules that name it (action, errno,
//! argument checks, includes/excludes), in the profile's order, so a
//! reader can see at once everything Docker decides about one syscall.
//! Comments are left out: the reasons the tool gives are its own
//! (`profiler/src/baseline/notes.rs`). Run it once per new Docker release;
//! the tool itself never reads the source file.

use std::{collections::BTreeMap, fs, path::PathBuf};

use anyhow::{Context, Result, bail};
use serde_json::{Map, Value, json};

use crate::workspace::Workspace;

#[derive(clap::Args)]
pub struct Options {
    /// Docker's default.json; default: `../shared/reference/docker-default-seccomp.json`
    /// beside the workspace.
    #[arg(long, value_name = "FILE")]
    source: Option<PathBuf>,
    /// What the source is, recorded in the output.
    #[arg(long, default_value = "moby/profiles seccomp/default.json v0.2.3")]
    source_name: String,
}

/// Where the baseline goes, relative to the workspace root.
pub const OUTPUT: &str = "profiler/data/docker-baseline.json";

pub fn run(ws: &Workspace, options: &Options) -> Result<()> {
    let source = options.source.clone().unwrap_or_else(|| {
        ws.root
            .join("../shared/reference/docker-default-seccomp.json")
    });
    let text = fs::read_to_string(&source).with_context(|| {
        format!(
            "cannot read Docker's default profile at {} (give it with --source FILE)",
            source.display()
        )
    })?;
    let profile: Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", source.display()))?;
    let baseline = regroup(&profile, &options.source_name)?;
    let out = render(&baseline)?;
    let path = ws.root.join(OUTPUT);
    fs::write(&path, out).with_context(|| format!("cannot write {}", path.display()))?;
    eprintln!("xtask: wrote {}", path.display());
    Ok(())
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
