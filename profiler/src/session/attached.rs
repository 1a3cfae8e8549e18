//! A cgroup that already exists, watched as it is (`record --attach`): a
//! running container, a systemd unit, a cgroup2 path, or the cgroup of a
//! process. It is found through its owner's own word (the engine's, the
//! service manager's, the kernel's `/proc/PID/cgroup`), then checked: a
//! cgroup2 directory below the root, not holding this tool, with processes
//! in it. Nothing is done to it: no process is moved in or out, nothing is
//! written into it, it is never removed.

use std::{
    fs,
    os::unix::fs::MetadataExt,
    path::{Component, Path, PathBuf},
};

use super::{
    cgroup::{CgroupError, cgroup_of, cgroup2_mount, read_small},
    ebpf::CgroupTree,
};
use crate::engine::{
    Engine, EngineCli, EngineError,
    inspect::{Running, ctr_namespace},
};

/// What `--attach` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AttachTarget {
    /// A Docker or podman container by name or id; with no engine given,
    /// Docker's, else podman's.
    Container {
        engine: Option<Engine>,
        name: String,
    },
    /// A containerd container (`ctr`'s namespace and id).
    Containerd { namespace: String, id: String },
    /// A systemd unit.
    Unit(String),
    /// A cgroup2 path, below the cgroup2 root (or under its mount point).
    Cgroup(PathBuf),
    /// The cgroup process `pid` is in.
    Pid(u32),
}

/// The unit types whose processes have a cgroup of their own.
const UNIT_SUFFIXES: [&str; 3] = [".service", ".scope", ".slice"];

/// How the forms of TARGET are written, for the refusal of one that is not.
const FORMS: &str = "NAME (a Docker or podman container), docker:NAME, podman:NAME, \
                     containerd:NAMESPACE/ID, UNIT.service (or unit:UNIT), a cgroup path \
                     (/sys/fs/cgroup/... or cgroup:PATH), pid:N";

impl std::str::FromStr for AttachTarget {
    type Err = AttachError;

    fn from_str(text: &str) -> Result<AttachTarget, AttachError> {
        let bad = |why: &str| AttachError::Syntax {
            given: text.to_owned(),
            why: why.to_owned(),
        };
        if text.is_empty() {
            return Err(bad("empty"));
        }
        let (prefix, rest) = match text.split_once(':') {
            Some((prefix, rest)) if !prefix.contains('/') => (Some(prefix), rest),
            _ => (None, text),
        };
        let non_empty = |rest: &str| -> Result<String, AttachError> {
            match rest.is_empty() {
                true => Err(bad("nothing after the colon")),
                false => Ok(rest.to_owned()),
            }
        };
        match prefix {
            Some("pid") => rest
                .parse()
                .ok()
                .filter(|&pid| pid > 0)
                .map(AttachTarget::Pid)
                .ok_or_else(|| bad("pid: takes a process id, e.g. pid:1234")),
            Some("docker") => Ok(AttachTarget::Container {
                engine: Some(Engine::Docker),
                name: non_empty(rest)?,
            }),
            Some("podman") => Ok(AttachTarget::Container {
                engine: Some(Engine::Podman),
                name: non_empty(rest)?,
            }),
            Some("containerd" | "ctr") => match rest.split_once('/') {
                Some((namespace, id)) if !namespace.is_empty() && !id.is_empty() => {
                    Ok(AttachTarget::Containerd {
                        namespace: namespace.to_owned(),
                        id: id.to_owned(),
                    })
                }
                _ => Err(bad(
                    "containerd: takes NAMESPACE/ID, e.g. containerd:default/web",
                )),
            },
            Some("unit") => Ok(AttachTarget::Unit(non_empty(rest)?)),
            Some("cgroup") => Ok(AttachTarget::Cgroup(PathBuf::from(non_empty(rest)?))),
            Some(other) => Err(bad(&format!("unknown kind `{other}:`"))),
            None if text.starts_with('/') => Ok(AttachTarget::Cgroup(PathBuf::from(text))),
            None if UNIT_SUFFIXES.iter().any(|s| text.ends_with(s)) => {
                Ok(AttachTarget::Unit(text.to_owned()))
            }
            None => Ok(AttachTarget::Container {
                engine: None,
                name: text.to_owned(),
            }),
        }
    }
}

/// Why a target cannot be attached to.
#[derive(Debug, thiserror::Error)]
pub enum AttachError {
    #[error("--attach {given}: {why}; give one of: {FORMS}")]
    Syntax { given: String, why: String },
    #[error("--attach {given}: {source}")]
    Engine {
        given: String,
        #[source]
        source: EngineError,
    },
    #[error(
        "--attach {given}: no running Docker or podman container has this name or id \
         ({asked}); for containerd write containerd:NAMESPACE/ID"
    )]
    NoContainer { given: String, asked: String },
    #[error(
        "--attach {given}: both Docker and podman have a running container of this name: \
         write docker:{given} or podman:{given}"
    )]
    Ambiguous { given: String },
    #[error("--attach {given}: no process {pid} runs on this host")]
    NoProcess { given: String, pid: u32 },
    #[error("--attach {given}: systemd does not say where the unit runs: {detail}")]
    Unit { given: String, detail: String },
    #[error(
        "--attach {given}: systemd's unit {given} runs no process now (its ActiveState is \
         {state}): start it, then attach"
    )]
    UnitInactive { given: String, state: String },
    #[error("--attach {given}: {path} is no cgroup2 directory: {why}")]
    NotACgroup {
        given: String,
        path: PathBuf,
        why: String,
    },
    #[error(
        "--attach {given}: it is in no cgroup v2 of its own (its cgroup2 cgroup is the root \
         one: a cgroup v1-only workload); recording the root would record every process of \
         the host. Run it with a cgroup2 cgroup of its own (a cgroup v2 or hybrid host's \
         systemd or engine gives one)"
    )]
    Root { given: String },
    #[error(
        "--attach {given}: its cgroup {path} holds this tool itself, whose own syscalls \
         would be recorded: attach to a cgroup below it, or run the tool from another cgroup"
    )]
    Own { given: String, path: PathBuf },
    #[error("--attach {given}: its cgroup {path} holds no process now (it has ended)")]
    Ended { given: String, path: PathBuf },
    #[error(transparent)]
    Cgroup(#[from] CgroupError),
}

/// The cgroup attached to.
#[derive(Debug, Clone)]
pub(crate) struct Attached {
    /// What is watched, for the summary and the profile's comment:
    /// "docker container web (0123456789ab)".
    pub(crate) what: String,
    /// The cgroup's directory.
    pub(crate) path: PathBuf,
    /// The cgroup's path below the cgroup2 root.
    pub(crate) relative: PathBuf,
    pub(crate) tree: CgroupTree,
    /// The container, as its engine described it.
    pub(crate) container: Option<Running>,
}

impl Attached {
    /// Finds `target`'s cgroup and checks it can be watched.
    pub(crate) fn resolve(target: &AttachTarget, given: &str) -> Result<Attached, AttachError> {
        let given = given.to_owned();
        let engine_error = |source| AttachError::Engine {
            given: given.clone(),
            source,
        };
        let (relative, what, container) = match target {
            AttachTarget::Container { engine, name } => {
                let running = find_container(*engine, name, &given)?;
                let relative = cgroup_of(running.pid)
                    .ok_or_else(|| AttachError::Ended {
                        given: given.clone(),
                        path: PathBuf::from(format!("/proc/{}", running.pid)),
                    })?
                    .ok_or_else(|| AttachError::Root {
                        given: given.clone(),
                    })?;
                (relative, running.to_string(), Some(running))
            }
            AttachTarget::Containerd { namespace, id } => {
                let cli = EngineCli::find(Engine::Containerd, ctr_namespace(namespace))
                    .map_err(engine_error)?;
                let running = cli.running(id).map_err(engine_error)?;
                let relative = cgroup_of(running.pid)
                    .ok_or_else(|| AttachError::Ended {
                        given: given.clone(),
                        path: PathBuf::from(format!("/proc/{}", running.pid)),
                    })?
                    .ok_or_else(|| AttachError::Root {
                        given: given.clone(),
                    })?;
                let what = format!("containerd container {namespace}/{id}");
                (relative, what, Some(running))
            }
            AttachTarget::Pid(pid) => {
                let relative = cgroup_of(*pid)
                    .ok_or_else(|| AttachError::NoProcess {
                        given: given.clone(),
                        pid: *pid,
                    })?
                    .ok_or_else(|| AttachError::Root {
                        given: given.clone(),
                    })?;
                let what = format!("the cgroup of process {pid} ({})", relative.display());
                (relative, what, None)
            }
            AttachTarget::Unit(unit) => {
                let relative = unit_cgroup(unit, &given)?;
                (relative, format!("systemd unit {unit}"), None)
            }
            AttachTarget::Cgroup(path) => {
                let relative = below_root(path, &given)?;
                (
                    relative.clone(),
                    format!("cgroup {}", relative.display()),
                    None,
                )
            }
        };
        if relative == Path::new("/") {
            return Err(AttachError::Root { given });
        }
        let mount = cgroup2_mount()?;
        let root_level = super::cgroup::root_level(&mount)?;
        let path = mount.join(relative.strip_prefix("/").unwrap_or(&relative));
        let not_a_cgroup = |why: String| AttachError::NotACgroup {
            given: given.clone(),
            path: path.clone(),
            why,
        };
        let metadata = fs::symlink_metadata(&path).map_err(|e| not_a_cgroup(e.to_string()))?;
        if !metadata.is_dir() {
            return Err(not_a_cgroup("not a directory".to_owned()));
        }
        let statfs = rustix::fs::statfs(&path).map_err(|e| not_a_cgroup(e.to_string()))?;
        const CGROUP2_SUPER_MAGIC: u64 = 0x6367_7270;
        if statfs.f_type as u64 != CGROUP2_SUPER_MAGIC {
            return Err(not_a_cgroup("not on the cgroup2 filesystem".to_owned()));
        }
        if let Some(Some(own)) = cgroup_of(std::process::id())
            && own.starts_with(&relative)
        {
            return Err(AttachError::Own {
                given,
                path: relative,
            });
        }
        let level = super::cgroup::depth(&relative).saturating_add(root_level);
        let attached = Attached {
            what,
            path,
            tree: CgroupTree {
                id: metadata.ino(),
                level,
            },
            relative,
            container,
        };
        if !attached.populated() {
            return Err(AttachError::Ended {
                given,
                path: attached.relative,
            });
        }
        Ok(attached)
    }

    /// Whether a process is in the cgroup or below it (`false` once the
    /// cgroup is gone).
    pub(crate) fn populated(&self) -> bool {
        match read_small(&self.path.join("cgroup.events")) {
            Some(events) => events
                .lines()
                .any(|line| line.split_whitespace().eq(["populated", "1"])),
            None => false,
        }
    }

    /// The processes of the cgroup itself (not those below it).
    pub(crate) fn processes(&self) -> Vec<u32> {
        read_small(&self.path.join("cgroup.procs"))
            .map(|text| text.lines().filter_map(|l| l.trim().parse().ok()).collect())
            .unwrap_or_default()
    }
}

/// The running container `name` of `engine` (none given: Docker's, else
/// podman's; both having one is ambiguous).
fn find_container(engine: Option<Engine>, name: &str, given: &str) -> Result<Running, AttachError> {
    let engine_error = |source| AttachError::Engine {
        given: given.to_owned(),
        source,
    };
    if let Some(engine) = engine {
        let cli = EngineCli::find(engine, Vec::new()).map_err(engine_error)?;
        return cli.running(name).map_err(engine_error);
    }
    let mut found = Vec::new();
    let mut asked = Vec::new();
    for engine in [Engine::Docker, Engine::Podman] {
        let Ok(cli) = EngineCli::find(engine, Vec::new()) else {
            asked.push(format!("{} is not installed", engine.name()));
            continue;
        };
        match cli.running(name) {
            Ok(running) => found.push(running),
            Err(e) => asked.push(e.to_string()),
        }
    }
    match found.len() {
        0 => Err(AttachError::NoContainer {
            given: given.to_owned(),
            asked: asked.join("; "),
        }),
        1 => Ok(found.remove(0)),
        _ => Err(AttachError::Ambiguous {
            given: given.to_owned(),
        }),
    }
}

/// The cgroup systemd runs `unit` in.
fn unit_cgroup(unit: &str, given: &str) -> Result<PathBuf, AttachError> {
    let unit_error = |detail: String| AttachError::Unit {
        given: given.to_owned(),
        detail,
    };
    let cli = crate::program::find(std::ffi::OsStr::new("systemctl"))
        .map_err(|_| unit_error("no systemctl in PATH".to_owned()))?;
    let output = std::process::Command::new(cli)
        .args([
            "show",
            "--property=ActiveState",
            "--property=ControlGroup",
            "--",
        ])
        .arg(unit)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| unit_error(e.to_string()))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(unit_error(
            stderr
                .lines()
                .last()
                .unwrap_or("systemctl failed")
                .trim()
                .to_owned(),
        ));
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix('='))
            .unwrap_or("")
            .trim()
            .to_owned()
    };
    let (state, group) = (field("ActiveState"), field("ControlGroup"));
    if group.is_empty() {
        return Err(AttachError::UnitInactive {
            given: given.to_owned(),
            state,
        });
    }
    below_root(Path::new(&group), given)
}

/// A cgroup path as the user or systemd gave it, below the cgroup2 root:
/// under the mount point, or taken from the root; no `..`.
fn below_root(path: &Path, given: &str) -> Result<PathBuf, AttachError> {
    let mount = cgroup2_mount()?;
    let inside = path.strip_prefix(&mount).unwrap_or(path);
    let mut relative = PathBuf::from("/");
    for component in inside.components() {
        match component {
            Component::Normal(part) => relative.push(part),
            Component::RootDir | Component::CurDir => {}
            Component::ParentDir | Component::Prefix(_) => {
                return Err(AttachError::NotACgroup {
                    given: given.to_owned(),
                    path: path.to_owned(),
                    why: "a cgroup path has no `..`".to_owned(),
                });
            }
        }
    }
    Ok(relative)
}

/// A small file of /proc or of the cgroup filesystem, within a limit;
/// `None` when it cannot be read (gone).
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_of_a_target_is_read() {
        let parse = |t: &str| t.parse::<AttachTarget>();
        assert_eq!(parse("pid:42").ok(), Some(AttachTarget::Pid(42)));
        assert_eq!(
            parse("web").ok(),
            Some(AttachTarget::Container {
                engine: None,
                name: "web".into()
            })
        );
        assert_eq!(
            parse("podman:db").ok(),
            Some(AttachTarget::Container {
                engine: Some(Engine::Podman),
                name: "db".into()
            })
        );
        assert_eq!(
            parse("containerd:k8s.io/abc").ok(),
            Some(AttachTarget::Containerd {
                namespace: "k8s.io".into(),
                id: "abc".into()
            })
        );
        assert_eq!(
            parse("nginx.service").ok(),
            Some(AttachTarget::Unit("nginx.service".into()))
        );
        assert_eq!(
            parse("/sys/fs/cgroup/a/b").ok(),
            Some(AttachTarget::Cgroup("/sys/fs/cgroup/a/b".into()))
        );
        for bad in ["", "pid:0", "pid:x", "docker:", "containerd:web", "vm:x"] {
            let error = parse(bad).expect_err(bad).to_string();
            assert!(error.contains("give one of"), "{bad}: {error}");
        }
    }

    #[test]
    fn a_cgroup_path_never_climbs_out_of_the_root() {
        assert!(below_root(Path::new("/a/../../etc"), "x").is_err());
        let inside = below_root(Path::new("a/./b"), "x").expect("a plain path");
        assert_eq!(inside, Path::new("/a/b"));
    }
}
