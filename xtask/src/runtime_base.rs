//! `cargo xtask runtime-base`: derives the runtime base sets shipped in
//! `profiler/data/runtime-base/`, with the tool itself.
//!
//! It records a trivial container (`true`) many times with each engine, and
//! keeps the union of the syscalls the runtime made after installing the
//! seccomp filter and before the entrypoint's `execve` (the recorder's
//! `runtime_syscalls`), and for the syscalls whose arguments the recorder
//! captures, the union of the value tuples they passed (its
//! `runtime_arguments`). Which of them a run makes varies (runc is written in
//! Go), so the table printed at the end says in how many runs each appeared.

use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
    path::Path,
    process::Command,
};

use anyhow::{Context, Result, bail};

use crate::{
    images::{CONTAINERD_IMAGE, IMAGE},
    services::{CONTAINERD_ADDRESS_VAR, PODMAN_GLOBALS_VAR, Services},
    workspace::{self, Workspace},
};

#[derive(clap::Args)]
pub struct Options {
    /// Recordings per engine.
    #[arg(long, default_value_t = 100)]
    runs: u32,
    /// Only this engine (docker, podman, podman-crun or containerd); all by
    /// default.
    #[arg(long)]
    engine: Option<String>,
}

pub fn run(ws: &Workspace, options: &Options) -> Result<()> {
    crate::setup::run()?;
    workspace::run(&mut ws.cargo(["build", "--release", "--workspace", "--bins"]))?;
    let services = Services::start(ws)?;
    let env: BTreeMap<String, String> = services.env.iter().cloned().collect();
    let docker_host = env
        .get("DOCKER_HOST")
        .context("no DOCKER_HOST from the services")?;
    let podman_globals: Vec<String> = env
        .get(PODMAN_GLOBALS_VAR)
        .context("no podman globals from the services")?
        .split(' ')
        .map(str::to_owned)
        .collect();

    let containerd_address = env
        .get(CONTAINERD_ADDRESS_VAR)
        .context("no containerd address from the services")?;
    let variants: Vec<&str> = match options.engine.as_deref() {
        None => vec!["docker", "podman", "podman-crun", "containerd"],
        Some(e @ ("docker" | "podman" | "podman-crun" | "containerd")) => vec![e],
        Some(other) => bail!("unknown engine {other}: docker, podman, podman-crun or containerd"),
    };
    for variant in variants {
        let engine = variant.split('-').next().unwrap_or(variant);
        let crun = variant == "podman-crun";
        // The engine's CLI.
        let cli = if engine == "containerd" {
            "ctr"
        } else {
            engine
        };
        let (globals, run_extra): (Vec<String>, Vec<&str>) = match engine {
            "docker" => (vec!["-H".to_owned(), docker_host.clone()], vec![]),
            "containerd" => (vec!["-a".to_owned(), containerd_address.clone()], vec![]),
            _ => (
                podman_globals
                    .iter()
                    .map(|g| {
                        if crun && g == "--runtime=runc" {
                            "--runtime=crun".to_owned()
                        } else {
                            g.clone()
                        }
                    })
                    .collect(),
                vec![
                    "--ulimit",
                    "nofile=20000:20000",
                    "--ulimit",
                    "nproc=32768:32768",
                ],
            ),
        };
        let (runtime, version) = runtime_of(engine, &globals)?;
        // crun refuses hybrid cgroups while cgroup2 holds a controller
        // (hugetlb on these machines): each run gets a mount namespace of
        // its own in which hugetlb is mounted as a v1 hierarchy, which moves
        // the controller off cgroup2 while the mount lives.
        let wrapper: Vec<String> = if crun {
            let dir = std::env::temp_dir().join("syscall-profile-hugetlb-v1");
            vec![
                "unshare".to_owned(),
                "-m".to_owned(),
                "sh".to_owned(),
                "-c".to_owned(),
                format!(
                    "mkdir -p {0} && mount -t cgroup -o hugetlb none {0} && exec \"$@\"",
                    dir.display()
                ),
                "sh".to_owned(),
            ]
        } else {
            Vec::new()
        };
        let engine_version = engine_version(engine, &globals)?;
        eprintln!(
            "xtask runtime-base: {engine} {engine_version} with {runtime} ({version}), {} runs",
            options.runs
        );

        let mut seen: BTreeMap<String, u32> = BTreeMap::new();
        let mut seen_values: BTreeMap<String, BTreeMap<Vec<u64>, u32>> = BTreeMap::new();
        let scratch =
            std::env::temp_dir().join(format!("syscall-profile-base-{}", std::process::id()));
        fs::create_dir_all(&scratch)?;
        for round in 1..=options.runs {
            let stats = scratch.join("stats.json");
            let profiler = ws.binary("release", "syscall-profile");
            let mut record = match wrapper.split_first() {
                Some((program, args)) => {
                    let mut cmd = Command::new(program);
                    cmd.args(args).arg(&profiler);
                    cmd
                }
                None => Command::new(&profiler),
            };
            record
                .args(["record", "-q", "--no-runtime-base", "-o"])
                .arg(scratch.join("profile.json"))
                .arg("--stats")
                .arg(&stats)
                .args(["--", cli])
                .args(&globals);
            if engine == "containerd" {
                // ctr: no network namespace option; the container's id
                // follows the image.
                let id = format!("runtime-base-{}-{round}", std::process::id());
                record.args(["run", "--rm", CONTAINERD_IMAGE, &id, "true"]);
            } else {
                record
                    .args(["run", "--rm", "--network", "none"])
                    .args(&run_extra)
                    .args([IMAGE, "true"]);
            }
            workspace::run(&mut record)?;
            for name in runtime_syscalls(&stats)? {
                *seen.entry(name).or_default() += 1;
            }
            for (name, tuples) in runtime_arguments(&stats)? {
                for tuple in tuples {
                    *seen_values
                        .entry(name.clone())
                        .or_default()
                        .entry(tuple)
                        .or_default() += 1;
                }
            }
            eprint!(
                "\rxtask runtime-base: {engine}: {round}/{} runs, {} syscalls so far",
                options.runs,
                seen.len()
            );
        }
        eprintln!();
        let _ = fs::remove_dir_all(&scratch);

        println!(
            "{runtime} ({version}): syscalls after the filter install, in how many of {} runs",
            options.runs
        );
        for (name, count) in &seen {
            println!("  {name:<20} {count}");
            for (tuple, count) in seen_values.get(name).into_iter().flatten() {
                println!("    {tuple:<18?} {count}");
            }
        }
        let arguments: BTreeMap<&String, BTreeSet<&Vec<u64>>> = seen_values
            .iter()
            .map(|(name, tuples)| (name, tuples.keys().collect()))
            .collect();
        let base = serde_json::json!({
            "runtime": runtime,
            "version": version,
            "engine": format!("{engine} {engine_version}"),
            "runs": options.runs,
            "derived_by": format!("cargo xtask runtime-base --engine {engine} --runs {}", options.runs),
            "syscalls": seen.keys().collect::<Vec<_>>(),
            "arguments": arguments,
        });
        let path = ws
            .root
            .join("profiler/data/runtime-base")
            .join(format!("{engine}-{runtime}.json"));
        let text = serde_json::to_string_pretty(&base)? + "\n";
        fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("xtask runtime-base: wrote {}", path.display());
    }
    drop(services);
    Ok(())
}

/// The engine's version, as its server reports it.
fn engine_version(engine: &str, globals: &[String]) -> Result<String> {
    match engine {
        "docker" => query(
            engine,
            globals,
            &["version", "--format", "{{.Server.Version}}"],
        ),
        // `ctr version`: the client's, then under `Server:` the daemon's.
        "containerd" => {
            let out = query("ctr", globals, &["version"])?;
            out.split("Server:")
                .nth(1)
                .and_then(|server| {
                    server
                        .lines()
                        .find_map(|l| l.trim().strip_prefix("Version:"))
                })
                .map(|v| v.trim().to_owned())
                .context("`ctr version` names no server version")
        }
        _ => query(engine, globals, &["version", "--format", "{{.Version}}"]),
    }
}

/// The runtime the engine uses, and its version line.
fn runtime_of(engine: &str, globals: &[String]) -> Result<(String, String)> {
    let runtime = match engine {
        // containerd's runc shim runs the runc in PATH.
        "containerd" => "runc".to_owned(),
        "docker" => query(
            engine,
            globals,
            &["info", "--format", "{{.DefaultRuntime}}"],
        )?,
        _ => query(
            engine,
            globals,
            &["info", "--format", "{{.Host.OCIRuntime.Name}}"],
        )?,
    };
    let output = Command::new(&runtime)
        .arg("--version")
        .output()
        .with_context(|| format!("cannot run {runtime} --version"))?;
    let version = String::from_utf8_lossy(&output.stdout)
        .lines()
        .next()
        .unwrap_or("unknown")
        .trim()
        .to_owned();
    Ok((runtime, version))
}

fn query(engine: &str, globals: &[String], args: &[&str]) -> Result<String> {
    let output = Command::new(engine)
        .args(globals)
        .args(args)
        .output()
        .with_context(|| format!("cannot run {engine}"))?;
    if !output.status.success() {
        bail!(
            "`{engine} {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

fn runtime_syscalls(stats: &Path) -> Result<Vec<String>> {
    let text =
        fs::read_to_string(stats).with_context(|| format!("cannot read {}", stats.display()))?;
    let value: serde_json::Value = serde_json::from_str(&text)?;
    Ok(value["runtime_syscalls"]
        .as_array()
        .context("stats without runtime_syscalls")?
        .iter()
        .filter_map(|s| s["name"].as_str().map(str::to_owned))
        .collect())
}

/// The runtime's captured argument values in a recording's stats, per
/// syscall name (both tables together). A recording that could not keep
/// them all is refused: a base set must not miss a value the runtime needs.
fn runtime_arguments(stats: &Path) -> Result<BTreeMap<String, BTreeSet<Vec<u64>>>> {
    let text =
        fs::read_to_string(stats).with_context(|| format!("cannot read {}", stats.display()))?;
    let value: serde_json::Value = serde_json::from_str(&text)?;
    let mut arguments: BTreeMap<String, BTreeSet<Vec<u64>>> = BTreeMap::new();
    for entry in value["runtime_arguments"]
        .as_array()
        .context("stats without runtime_arguments")?
    {
        let name = entry["name"]
            .as_str()
            .context("an argument entry without name")?;
        if entry["lost"].as_u64().unwrap_or(0) > 0 {
            bail!("the recording lost argument values of the runtime's {name}: {entry}");
        }
        for values in entry["values"].as_array().into_iter().flatten() {
            let tuple = values["raw"]
                .as_array()
                .context("argument values without raw")?
                .iter()
                .map(|raw| {
                    let raw = raw.as_str().unwrap_or_default();
                    u64::from_str_radix(raw.trim_start_matches("0x"), 16)
                        .with_context(|| format!("not a hex value: {raw}"))
                })
                .collect::<Result<Vec<u64>>>()?;
            arguments.entry(name.to_owned()).or_default().insert(tuple);
        }
    }
    Ok(arguments)
}
